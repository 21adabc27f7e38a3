package docscheck

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ipkeeper/ipkeeper/cni/netconf"
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
		for _, block := range fencedBlocks(parseMarkdown(string(data))) {
			for _, plugin := range documentedPlugins(t, doc, block) {
				if ipam, _ := plugin["ipam"].(map[string]any); ipam["type"] != "ipkeeper" {
					continue
				}
				found++
				config, err := json.Marshal(plugin)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := netconf.Parse(config); err != nil {
					t.Errorf("%s: the configuration %s: %v", doc, config, err)
				}
			}
		}
	}
	if found < 4 {
		t.Errorf("found %d documented ipkeeper configurations, want those of cni.md, networks.md and install.md", found)
	}
}

// codeBlock is a fenced code block: its info string and its text.
type codeBlock struct{ lang, text string }

// fencedBlocks joins the lines of d's fenced blocks into blocks: the lines
// of one block follow each other, those of two blocks are apart by their
// fences.
func fencedBlocks(d *document) []codeBlock {
	var blocks []codeBlock
	for i, fl := range d.fenced {
		if i == 0 || fl.line != d.fenced[i-1].line+1 {
			blocks = append(blocks, codeBlock{lang: fl.info})
		}
		blocks[len(blocks)-1].text += fl.text + "\n"
	}
	return blocks
}

// documentedPlugins returns the plugin configurations of a code block, each
// with the network's name and version, as the runtime hands them to a
// plugin: a JSON configuration or list, or the config of each
// NetworkAttachmentDefinition of a YAML block.
func documentedPlugins(t *testing.T, doc string, block codeBlock) []map[string]any {
	t.Helper()
	switch block.lang {
	case "json":
		return networkPlugins(t, doc, []byte(block.text), "")
	case "yaml":
		return attachmentPlugins(t, doc, block.text)
	}
	return nil
}

// attachmentPlugins returns the plugins of the NetworkAttachmentDefinitions
// among the YAML documents of text, their networks named as Multus names
// them.
func attachmentPlugins(t *testing.T, doc, text string) []map[string]any {
	t.Helper()
	var plugins []map[string]any
	for _, text := range strings.Split(text, "\n---") {
		var object struct {
			Kind     string
			Metadata struct{ Name string }
			Spec     json.RawMessage
		}
		if err := yaml.Unmarshal([]byte(text), &object); err != nil {
			t.Errorf("%s: a YAML block does not parse: %v\n%s", doc, err, text)
			continue
		}
		if object.Kind != "NetworkAttachmentDefinition" {
			continue
		}
		var spec struct{ Config string }
		if err := json.Unmarshal(object.Spec, &spec); err != nil {
			t.Errorf("%s: NetworkAttachmentDefinition %s: %v", doc, object.Metadata.Name, err)
			continue
		}
		plugins = append(plugins, networkPlugins(t, doc, []byte(spec.Config), object.Metadata.Name)...)
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
