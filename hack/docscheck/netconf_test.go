package netconf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestTheDocumentedConfigurationsParse parses every network configuration
// with an ipkeeper ipam section that README.md and docs/ show, as JSON
// (a configuration or a list of plugins) or as the config of a
// NetworkAttachmentDefinition: a reader copies them as they are.
func TestTheDocumentedConfigurationsParse(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, doc := range append(docs, "../../README.md") {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range fencedBlocks(string(data)) {
			for _, plugin := range documentedPlugins(t, doc, block) {
				if ipam, _ := plugin["ipam"].(map[string]any); ipam["type"] != "ipkeeper" {
					continue
				}
				found++
				config, err := json.Marshal(plugin)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := Parse(config); err != nil {
					t.Errorf("%s: the configuration %s: %v", doc, config, err)
				}
			}
		}
	}
	if found < 4 {
		t.Errorf("found %d documented ipkeeper configurations, want those of cni.md, networks.md and install.md", found)
	}
}

// fence matches a fenced code block of Markdown, with its language.
var fence = regexp.MustCompile("(?ms)^ *```(json|yaml)\n(.*?)^ *```")

type codeBlock struct{ lang, text string }

func fencedBlocks(doc string) []codeBlock {
	var blocks []codeBlock
	for _, m := range fence.FindAllStringSubmatch(doc, -1) {
		blocks = append(blocks, codeBlock{lang: m[1], text: m[2]})
	}
	return blocks
}

// documentedPlugins returns the plugin configurations of a code block, each
// with the network's name and version, as the runtime hands them to a
// plugin: a JSON configuration or list, or the config of each
// NetworkAttachmentDefinition of a YAML block, named as Multus names it.
func documentedPlugins(t *testing.T, doc string, block codeBlock) []map[string]any {
	t.Helper()
	if block.lang == "json" {
		return networkPlugins(t, doc, []byte(block.text), "")
	}
	var plugins []map[string]any
	for _, text := range strings.Split(block.text, "\n---") {
		var nad struct {
			Kind     string
			Metadata struct{ Name string }
			Spec     struct{ Config string }
		}
		if err := yaml.Unmarshal([]byte(text), &nad); err != nil {
			t.Errorf("%s: a YAML block does not parse: %v\n%s", doc, err, text)
			continue
		}
		if nad.Kind == "NetworkAttachmentDefinition" {
			plugins = append(plugins, networkPlugins(t, doc, []byte(nad.Spec.Config), nad.Metadata.Name)...)
		}
	}
	return plugins
}

// networkPlugins returns the plugins of a network configuration, each with
// the network's name (defaultName where it has none) and cniVersion.
func networkPlugins(t *testing.T, doc string, data []byte, defaultName string) []map[string]any {
	t.Helper()
	var network map[string]any
	if err := json.Unmarshal(data, &network); err != nil {
		t.Errorf("%s: a JSON block does not parse: %v\n%s", doc, err, data)
		return nil
	}
	if _, ok := network["name"]; !ok {
		network["name"] = defaultName
	}
	list, ok := network["plugins"].([]any)
	if !ok {
		return []map[string]any{network}
	}
	var plugins []map[string]any
	for _, p := range list {
		plugin, _ := p.(map[string]any)
		if plugin == nil {
			t.Errorf("%s: a plugin of network %v is not an object", doc, network["name"])
			continue
		}
		plugin["name"], plugin["cniVersion"] = network["name"], network["cniVersion"]
		plugins = append(plugins, plugin)
	}
	return plugins
}
