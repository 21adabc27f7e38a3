package netconf

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		wantErr string
		check   func(*testing.T, *Config)
	}{
		{name: "defaults", config: `{"cniVersion":"1.1.0","name":"net","ipam":{"type":"ipkeeper","pools":["a","b"]}}`,
			check: func(t *testing.T, c *Config) {
				if c.IPAM.Kubeconfig != DefaultKubeconfig || c.IPAM.DataDir != DefaultDataDir || c.TimeoutDuration != DefaultTimeout {
					t.Fatalf("defaults not applied: %+v", c.IPAM)
				}
			}},
		{name: "every key", config: `{"cniVersion":"1.0.0","name":"net","ipam":{"type":"ipkeeper","pools":["a"],"kubeconfig":"/k","nodeName":"n","timeout":"2s","dataDir":"/d"}}`,
			check: func(t *testing.T, c *Config) {
				if c.IPAM.NodeName != "n" || c.TimeoutDuration != 2*time.Second || c.IPAM.DataDir != "/d" || c.IPAM.Kubeconfig != "/k" {
					t.Fatalf("keys not read: %+v", c.IPAM)
				}
			}},
		{name: "valid attachments", config: `{"cniVersion":"1.1.0","name":"net","ipam":{"type":"ipkeeper"},"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]}`,
			check: func(t *testing.T, c *Config) {
				if len(c.ValidAttachments) != 1 || c.ValidAttachments[0].ContainerID != "c1" {
					t.Fatalf("valid attachments = %+v", c.ValidAttachments)
				}
			}},
		{name: "attachments under their first name", config: `{"cniVersion":"1.1.0","name":"net","ipam":{"type":"ipkeeper"},"cni.dev/attachments":[{"containerID":"c2","ifname":"net1"}]}`,
			check: func(t *testing.T, c *Config) {
				if len(c.ValidAttachments) != 1 || c.ValidAttachments[0].ContainerID != "c2" || c.ValidAttachments[0].IfName != "net1" {
					t.Fatalf("valid attachments = %+v", c.ValidAttachments)
				}
			}},
		{name: "attachments under both names", config: `{"cniVersion":"1.1.0","name":"net","ipam":{"type":"ipkeeper"},` +
			`"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}],"cni.dev/attachments":[{"containerID":"c2","ifname":"eth0"}]}`,
			check: func(t *testing.T, c *Config) {
				if len(c.ValidAttachments) != 2 {
					t.Fatalf("valid attachments = %+v, want both keys' entries", c.ValidAttachments)
				}
			}},
		{name: "no attachments", config: `{"cniVersion":"1.1.0","name":"net","ipam":{"type":"ipkeeper"}}`,
			check: func(t *testing.T, c *Config) {
				if len(c.ValidAttachments) != 0 {
					t.Fatalf("valid attachments = %+v, want none", c.ValidAttachments)
				}
			}},
		{name: "prevResult", config: `{"cniVersion":"1.1.0","name":"net","ipam":{"type":"ipkeeper"},"prevResult":{"cniVersion":"1.1.0","ips":[{"address":"10.0.0.5/24"}]}}`,
			check: func(t *testing.T, c *Config) {
				if c.PrevResult == nil {
					t.Fatal("prevResult not parsed")
				}
			}},
		{name: "malformed JSON", config: `{"ipam":`, wantErr: "not valid JSON"},
		{name: "no ipam section", config: `{"cniVersion":"1.1.0","name":"net"}`, wantErr: `no "ipam" section`},
		{name: "pools as a string", config: `{"ipam":{"type":"ipkeeper","pools":"a"}}`, wantErr: `key "pools" holds a JSON string; it must be a list of pool names`},
		{name: "timeout as a number", config: `{"ipam":{"type":"ipkeeper","timeout":30}}`, wantErr: `key "timeout" holds a JSON number; it must be a string`},
		{name: "misspelt key", config: `{"ipam":{"type":"ipkeeper","pool":["a"]}}`, wantErr: `unknown key "pool"`},
		{name: "other plugin", config: `{"ipam":{"type":"host-local"}}`, wantErr: `this plugin is "ipkeeper"`},
		{name: "bad timeout", config: `{"ipam":{"type":"ipkeeper","timeout":"soon"}}`, wantErr: `ipam.timeout "soon" is not a positive duration`},
		{name: "relative kubeconfig", config: `{"ipam":{"type":"ipkeeper","kubeconfig":"kc"}}`, wantErr: "must be absolute paths"},
		{name: "bad pool name", config: `{"ipam":{"type":"ipkeeper","pools":["a,b"]}}`, wantErr: `"a,b" is not an IPPool name`},
		{name: "pool name that is no DNS subdomain", config: `{"ipam":{"type":"ipkeeper","pools":["V4_bad"]}}`, wantErr: `"V4_bad" is not an IPPool name (a lowercase RFC 1123 subdomain`},
		{name: "bad prevResult", config: `{"cniVersion":"1.1.0","ipam":{"type":"ipkeeper"},"prevResult":{"ips":"x"}}`, wantErr: "prevResult is not a CNI result"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.config))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestStaticIPs(t *testing.T) {
	const head = `{"cniVersion":"1.1.0","name":"net","ipam":{"type":"ipkeeper"}`
	tests := []struct {
		name    string
		extra   string
		want    string
		source  string
		wantErr string
	}{
		{name: "none"},
		{name: "runtimeConfig", extra: `"runtimeConfig":{"ips":["10.0.0.5/24"],"portMappings":[]}`, want: "10.0.0.5/24", source: SourceRuntimeConfig},
		{name: "args", extra: `"args":{"cni":{"ips":["10.0.0.6","fd00::6"]}}`, want: "10.0.0.6 fd00::6", source: SourceArgs},
		{name: "runtimeConfig wins whole", extra: `"runtimeConfig":{"ips":["10.0.0.5"]},"args":{"cni":{"ips":["10.0.0.6","fd00::6"]}}`,
			want: "10.0.0.5", source: SourceRuntimeConfig},
		{name: "an empty list asks for nothing", extra: `"runtimeConfig":{"ips":[]},"args":{"cni":{"ips":["10.0.0.6"]}}`,
			want: "10.0.0.6", source: SourceArgs},
		{name: "other args", extra: `"args":{"cni":{"labels":[{"key":"a","value":"b"}]}}`},
		{name: "not a list", extra: `"runtimeConfig":{"ips":"10.0.0.5"}`,
			wantErr: `runtimeConfig.ips must be a list of addresses such as ["10.32.0.5/24", "fd00::5"]`},
		{name: "args not a list", extra: `"args":{"cni":{"ips":[5]}}`, wantErr: `args.cni.ips must be a list of addresses`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := head + "}"
			if tt.extra != "" {
				config = head + "," + tt.extra + "}"
			}
			cfg, err := Parse([]byte(config))
			if err != nil {
				t.Fatal(err)
			}
			ips, source, err := cfg.StaticIPs()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || strings.Join(ips, " ") != tt.want || source != tt.source {
				t.Fatalf("StaticIPs = %v from %q, %v; want %s from %q", ips, source, err, tt.want, tt.source)
			}
		})
	}
}
