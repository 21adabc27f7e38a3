package docscheck

import (
	"reflect"
	"testing"
)

func TestParseMarkdown(t *testing.T) {
	src := "# Title\n" +
		"\n" +
		"A `span` and a `span that\n" +
		"  runs on` and ``a `tick` inside`` and a [link](other.md#part).\n" +
		"\n" +
		"| rule | example message |\n" +
		"|---|---|\n" +
		"| `cidr` | `it is \\| wrong` / `also` |\n" +
		"\n" +
		"```message\n" +
		"the message\n" +
		"```\n" +
		"\n" +
		"## Title\n" +
		"An unclosed ` backtick.\n"
	d := parseMarkdown(src)
	wantSpans := []span{
		{line: 3, text: "span"},
		{line: 3, text: "span that runs on"},
		{line: 4, text: "a `tick` inside"},
		{line: 8, text: "cidr", column: "rule"},
		{line: 8, text: "it is | wrong", column: "example message"},
		{line: 8, text: "also", column: "example message"},
	}
	if !reflect.DeepEqual(d.spans, wantSpans) {
		t.Errorf("spans = %+v\nwant %+v", d.spans, wantSpans)
	}
	wantFenced := []fenceLine{{line: 11, info: "message", text: "the message"}}
	if !reflect.DeepEqual(d.fenced, wantFenced) {
		t.Errorf("fenced = %+v; want %+v", d.fenced, wantFenced)
	}
	wantLinks := []link{{line: 4, target: "other.md#part"}}
	if !reflect.DeepEqual(d.links, wantLinks) {
		t.Errorf("links = %+v; want %+v", d.links, wantLinks)
	}
	wantAnchors := map[string]bool{"title": true, "title-1": true}
	if !reflect.DeepEqual(d.anchors, wantAnchors) {
		t.Errorf("anchors = %v; want %v", d.anchors, wantAnchors)
	}
}

func TestAnchors(t *testing.T) {
	d := parseMarkdown("## The `ipam` section\n### IPPool status\n## What an ADD does?\n")
	for _, a := range []string{"the-ipam-section", "ippool-status", "what-an-add-does"} {
		if !d.anchors[a] {
			t.Errorf("no anchor %q in %v", a, d.anchors)
		}
	}
}
