package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/ipkeeper/ipkeeper/controllers/claimindex"
)

// ManagerOptions tune a manager started by StartManager.
type ManagerOptions struct {
	// MetricsAddr is where /metrics is served over plain HTTP; empty
	// disables it.
	MetricsAddr string
	// Setup registers the controllers or webhooks under test.
	Setup func(ctrl.Manager) error
	// NoWebhookServer keeps the manager from serving webhooks even when the
	// Env installed them, so that the webhooks can run in a manager of
	// their own that a test stops and starts.
	NoWebhookServer bool
}

// Manager is a running controller-runtime manager.
type Manager struct {
	ctrl.Manager
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
}

// StartManager runs a manager against e the way cmd/manager does: with
// ipkeeper's field indexes and, when e was started with webhooks, a webhook
// server where the API server expects it. It returns once the cache has
// synced and the webhook server (if any) answers. Env.Stop stops it, if
// the test has not.
func (e *Env) StartManager(opts ManagerOptions) (*Manager, error) {
	metricsAddr := opts.MetricsAddr
	if metricsAddr == "" {
		metricsAddr = "0"
	}
	wh := e.WebhookOptions()
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:                 e.Scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: "0",
		WebhookServer:          webhook.NewServer(webhook.Options{Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir}),
		// Several managers run in one test binary; each registers the same
		// controller names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := claimindex.Register(ctx, mgr.GetFieldIndexer()); err != nil {
		cancel()
		return nil, err
	}
	if opts.Setup != nil {
		if err := opts.Setup(mgr); err != nil {
			cancel()
			return nil, err
		}
	}
	m := &Manager{Manager: mgr, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(ctx) }()
	if err := m.waitReady(ctx, len(wh.ValidatingWebhooks) > 0 && !opts.NoWebhookServer); err != nil {
		_ = m.Stop()
		return nil, err
	}
	e.mu.Lock()
	e.managers = append(e.managers, m)
	e.mu.Unlock()
	return m, nil
}

func (m *Manager) waitReady(ctx context.Context, webhooks bool) error {
	syncCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if !m.GetCache().WaitForCacheSync(syncCtx) {
		return errors.New("manager cache did not sync within 30s")
	}
	if !webhooks {
		return nil
	}
	checker := m.GetWebhookServer().StartedChecker()
	for checker(nil) != nil {
		select {
		case <-syncCtx.Done():
			return errors.New("webhook server did not start within 30s")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Stop stops the manager, waits for it to return and returns its error;
// a second Stop, as Env.Stop makes of a manager the test stopped, returns
// nil at once.
func (m *Manager) Stop() error {
	var err error
	m.stopOnce.Do(func() {
		m.cancel()
		err = <-m.done
	})
	return err
}
