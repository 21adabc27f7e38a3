package nodestate

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolStateRoundTrip(t *testing.T) {
	d, err := Open(t.TempDir(), "node-a")
	if err != nil {
		t.Fatal(err)
	}
	if st := d.Pool("p"); st != (PoolState{}) {
		t.Fatalf("a new node remembers %+v", st)
	}
	want := PoolState{Cursor: netip.MustParseAddr("fd00::7"), ResourceVersion: "1234"}
	if err := d.SavePool("p", want); err != nil {
		t.Fatal(err)
	}
	if got := d.Pool("p"); got != want {
		t.Fatalf("state = %+v, want %+v", got, want)
	}
	if err := os.WriteFile(d.statePath("p"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st := d.Pool("p"); st != (PoolState{}) {
		t.Fatalf("a garbled state file gave %+v; want none", st)
	}
}

func TestLockExcludesOtherHolders(t *testing.T) {
	d, err := Open(t.TempDir(), "node-a")
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := d.Lock(context.Background(), []string{"v6", "v4"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.Lock(ctx, []string{"v4"}); err == nil || !strings.Contains(err.Error(), "wait for this node's lock on pool v4") {
		t.Fatalf("second lock while held: %v", err)
	}
	var acquired atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		release, err := d.Lock(context.Background(), []string{"v4", "v6"})
		if err == nil {
			acquired.Store(true)
			release()
		}
	}()
	time.Sleep(20 * time.Millisecond)
	if acquired.Load() {
		t.Fatal("lock taken while held")
	}
	unlock()
	<-done
	if !acquired.Load() {
		t.Fatal("lock not taken after release")
	}
	other, _ := Open(filepath.Dir(d.path), "node-b")
	release, err := other.Lock(context.Background(), []string{"v4"})
	if err != nil {
		t.Fatalf("another node's lock: %v", err)
	}
	release()
}

func TestNamesCannotEscapeTheDataDir(t *testing.T) {
	if _, err := Open(t.TempDir(), "../etc"); err == nil {
		t.Fatal("node name ../etc accepted")
	}
	d, _ := Open(t.TempDir(), "node-a")
	if _, err := d.Lock(context.Background(), []string{"../../x"}); err == nil {
		t.Fatal("pool name ../../x accepted")
	}
}

func TestNewestResourceVersionOfAllPools(t *testing.T) {
	d, err := Open(t.TempDir(), "node-a")
	if err != nil {
		t.Fatal(err)
	}
	if got := NewestResourceVersion(d.Pools()...); got != "" {
		t.Fatalf("a new node's newest version is %q", got)
	}
	for pool, rv := range map[string]string{"v4": "900", "v6": "1200", "odd": "not-a-number"} {
		if err := d.SavePool(pool, PoolState{ResourceVersion: rv}); err != nil {
			t.Fatal(err)
		}
	}
	if got := NewestResourceVersion(d.Pools()...); got != "1200" {
		t.Fatalf("newest version = %q, want 1200 (compared as numbers, the odd one ignored)", got)
	}
}

func TestTrusted(t *testing.T) {
	tests := []struct {
		kept, uid string
		want      bool
	}{
		{kept: "uid-1", uid: "uid-1", want: true},
		{kept: "", uid: "uid-1", want: true},
		{kept: "uid-1", uid: "uid-2", want: false},
	}
	for _, tt := range tests {
		if got := (PoolState{ResourceVersion: "5", PoolUID: tt.kept}).Trusted(tt.uid); got != tt.want {
			t.Errorf("state kept for pool UID %q trusted for %q: %v, want %v", tt.kept, tt.uid, got, tt.want)
		}
	}
}

func TestForgetNewerThan(t *testing.T) {
	d, err := Open(t.TempDir(), "node-a")
	if err != nil {
		t.Fatal(err)
	}
	cursor := netip.MustParseAddr("10.0.0.9")
	for pool, rv := range map[string]string{"old": "900", "now": "1200", "other-cluster": "987654321098"} {
		if err := d.SavePool(pool, PoolState{Cursor: cursor, ResourceVersion: rv, PoolUID: "uid-" + pool}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.ForgetNewerThan("1200"); err != nil {
		t.Fatal(err)
	}
	for pool, want := range map[string]string{"old": "900", "now": "1200", "other-cluster": ""} {
		if st := d.Pool(pool); st.ResourceVersion != want || st.Cursor != cursor || st.PoolUID != "uid-"+pool {
			t.Errorf("pool %s: %+v, want version %q and the rest kept", pool, st, want)
		}
	}
}
