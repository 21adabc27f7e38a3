// Package netconf parses and checks the ipkeeper section of a CNI network
// configuration. It reads no files and talks to no server, so every mistake
// in a configuration is reported before anything is reserved.
package netconf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults of the optional keys.
const (
	DefaultKubeconfig = "/etc/cni/net.d/ipkeeper.d/ipkeeper.kubeconfig"
	DefaultDataDir    = "/var/lib/cni/ipkeeper"
	DefaultTimeout    = 30 * time.Second
	// NodeNameFile is the file, beside the kubeconfig, where the node
	// agent writes the node's name.
	NodeNameFile = "nodename"
)

// IPAM is the "ipam" section of a network configuration.
type IPAM struct {
	// Type is the plugin name, "ipkeeper".
	Type string `json:"type"`
	// Pools are the IPPools to allocate from when neither the pod nor its
	// namespace names any, in order of preference; one address is taken
	// per family, from the first pool of that family that can give one.
	Pools []string `json:"pools"`
	// Kubeconfig is the path of the kubeconfig the plugin authenticates with.
	Kubeconfig string `json:"kubeconfig"`
	// NodeName is this node's name; empty means the node agent's file,
	// then the host name.
	NodeName string `json:"nodeName"`
	// Timeout bounds a whole CNI call, e.g. "30s".
	Timeout string `json:"timeout"`
	// DataDir holds the per-node, per-pool lock and round-robin cursor.
	DataDir string `json:"dataDir"`
}

// Config is a parsed, checked network configuration.
type Config struct {
	// Network is the whole network configuration, as the runtime sent it.
	Network types.NetConf
	IPAM    IPAM
	// TimeoutDuration is IPAM.Timeout parsed.
	TimeoutDuration time.Duration
	// ValidAttachments is set on GC: every attachment that is still in use,
	// from cni.dev/valid-attachments and cni.dev/attachments (libcni sends
	// both; the specification first named the latter). With neither,
	// nothing is valid: libcni has DELed every attachment itself.
	ValidAttachments []types.GCAttachment
	// PrevResult is set on CHECK (and DEL, when the runtime sends it).
	PrevResult types.Result
	// runtimeConfig and args are kept as sent: only an ADD reads the static
	// addresses in them (StaticIPs), so that no other verb fails on them.
	runtimeConfig, args json.RawMessage
}

// Where a runtime asks for static addresses, as the messages name them.
const (
	// SourceRuntimeConfig is the ips capability: libcni puts it in when
	// the plugin's configuration declares "capabilities": {"ips": true}, and
	// Multus fills it from a network selection element's ips.
	SourceRuntimeConfig = "runtimeConfig.ips"
	// SourceArgs is the args convention of CNI configurations.
	SourceArgs = "args.cni.ips"
)

// fullConfig is the part of a network configuration the plugin reads.
type fullConfig struct {
	types.NetConf
	IPAM             json.RawMessage      `json:"ipam"`
	ValidAttachments []types.GCAttachment `json:"cni.dev/valid-attachments,omitempty"`
	Attachments      []types.GCAttachment `json:"cni.dev/attachments,omitempty"`
	RuntimeConfig    json.RawMessage      `json:"runtimeConfig,omitempty"`
	Args             json.RawMessage      `json:"args,omitempty"`
}

// Parse parses and checks a network configuration. Its errors say which key
// is wrong and what to write instead.
func Parse(data []byte) (*Config, error) {
	var full fullConfig
	if err := json.Unmarshal(data, &full); err != nil {
		return nil, fmt.Errorf("network configuration is not valid JSON: %w", err)
	}
	if len(full.IPAM) == 0 {
		return nil, errors.New(`network configuration has no "ipam" section: add {"type": "ipkeeper", "pools": [...]}`)
	}
	ipam, err := parseIPAM(full.IPAM)
	if err != nil {
		return nil, err
	}
	timeout, err := time.ParseDuration(ipam.Timeout)
	if err != nil || timeout <= 0 {
		return nil, fmt.Errorf(`ipam.timeout %q is not a positive duration such as "30s"`, ipam.Timeout)
	}
	cfg := &Config{
		Network: full.NetConf, IPAM: ipam, TimeoutDuration: timeout,
		ValidAttachments: append(full.ValidAttachments, full.Attachments...),
		runtimeConfig:    full.RuntimeConfig, args: full.Args,
	}
	if full.RawPrevResult != nil {
		if err := parsePrevResult(cfg, &full.NetConf); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// StaticIPs returns the static addresses the runtime asks for and where:
// runtimeConfig.ips if it lists any, else args.cni.ips; source is "" when
// neither does. An empty list asks for nothing: runtimes may send one.
func (c *Config) StaticIPs() (ips []string, source string, err error) {
	var runtimeConfig struct {
		IPs []string `json:"ips"`
	}
	if len(c.runtimeConfig) > 0 {
		if err := json.Unmarshal(c.runtimeConfig, &runtimeConfig); err != nil {
			return nil, "", notAList(SourceRuntimeConfig)
		}
	}
	if len(runtimeConfig.IPs) > 0 {
		return runtimeConfig.IPs, SourceRuntimeConfig, nil
	}
	var args struct {
		CNI struct {
			IPs []string `json:"ips"`
		} `json:"cni"`
	}
	if len(c.args) > 0 {
		if err := json.Unmarshal(c.args, &args); err != nil {
			return nil, "", notAList(SourceArgs)
		}
	}
	if len(args.CNI.IPs) > 0 {
		return args.CNI.IPs, SourceArgs, nil
	}
	return nil, "", nil
}

func notAList(source string) error {
	return fmt.Errorf(`%s must be a list of addresses such as ["10.32.0.5/24", "fd00::5"]`, source)
}

// parseIPAM decodes the ipam section strictly: an unknown key is most
// likely a typo (such as "pool" for "pools") that would otherwise be
// silently ignored.
func parseIPAM(raw json.RawMessage) (IPAM, error) {
	ipam := IPAM{Kubeconfig: DefaultKubeconfig, DataDir: DefaultDataDir, Timeout: DefaultTimeout.String()}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ipam); err != nil {
		return IPAM{}, fmt.Errorf("ipam section: %s", describeDecodeError(err))
	}
	if ipam.Type != "ipkeeper" {
		return IPAM{}, fmt.Errorf(`ipam.type is %q; this plugin is "ipkeeper"`, ipam.Type)
	}
	for _, p := range ipam.Pools {
		if errs := validation.IsDNS1123Subdomain(p); len(errs) > 0 {
			return IPAM{}, fmt.Errorf("ipam.pools: %q is not an IPPool name (%s)", p, strings.Join(errs, "; "))
		}
	}
	if !filepath.IsAbs(ipam.Kubeconfig) || !filepath.IsAbs(ipam.DataDir) {
		return IPAM{}, fmt.Errorf("ipam.kubeconfig (%q) and ipam.dataDir (%q) must be absolute paths", ipam.Kubeconfig, ipam.DataDir)
	}
	return ipam, nil
}

// describeDecodeError turns encoding/json's errors into advice.
func describeDecodeError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		want := map[string]string{"pools": "a list of pool names", "type": "a string"}[typeErr.Field]
		if want == "" {
			want = "a string"
		}
		return fmt.Sprintf("key %q holds a JSON %s; it must be %s", typeErr.Field, typeErr.Value, want)
	}
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		key := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return fmt.Sprintf("unknown key %s; the keys are type, pools, kubeconfig, nodeName, timeout and dataDir", key)
	}
	return err.Error()
}

// parsePrevResult decodes prevResult into the result type of the
// configuration's CNI version.
func parsePrevResult(cfg *Config, conf *types.NetConf) error {
	raw, err := json.Marshal(conf.RawPrevResult)
	if err != nil {
		return fmt.Errorf("prevResult: %w", err)
	}
	res, err := version.NewResult(conf.CNIVersion, raw)
	if err != nil {
		return fmt.Errorf("prevResult is not a CNI result of version %s: %w", conf.CNIVersion, err)
	}
	cfg.PrevResult = res
	return nil
}
