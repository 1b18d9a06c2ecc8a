package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"

	"github.com/shortify/shortify/client"
)

// Example is the example of docs/client.md (TestDocExample keeps the two
// the same): shorten a URL, telling a refusal apart. It needs a running
// instance, so it is compiled, not run.
func Example() {
	ctx := context.Background()
	c, err := client.New("https://sho.example", client.WithAPIKey(os.Getenv("SHORTIFY_API_KEY")))
	if err != nil {
		log.Fatal(err)
	}
	link, err := c.CreateLink(ctx, client.CreateLinkRequest{URL: "https://example.com/launch"})
	var p *client.Problem
	if errors.As(err, &p) {
		log.Fatalf("refused: %s (field %q)", p.Detail, p.Field)
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println(link.ShortURL)
}

// ExampleClient_Links walks every link of the workspace, page by page.
func ExampleClient_Links() {
	c, err := client.New("https://sho.example", client.WithAPIKey(os.Getenv("SHORTIFY_API_KEY")), client.WithWorkspace("acme"))
	if err != nil {
		log.Fatal(err)
	}
	for link, err := range c.Links(context.Background(), client.ListLinksQuery{Limit: 500}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(link.ShortURL, "->", link.URL)
	}
}

// TestDocExample: the first Go block of docs/client.md is the body of
// Example, so that the documented code compiles.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/client.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```go\n")
	block, _, ok2 := strings.Cut(block, "```\n")
	if !ok || !ok2 {
		t.Fatal("docs/client.md has no ```go block")
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "func Example() {\n")
	body, _, ok2 = strings.Cut(body, "\n}\n")
	if !ok || !ok2 {
		t.Fatal("example_test.go has no func Example")
	}
	var lines []string
	for l := range strings.SplitSeq(body, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	if got := strings.Join(lines, "\n") + "\n"; got != block {
		t.Fatalf("docs/client.md's example and Example differ:\n--- doc\n%s--- Example\n%s", block, got)
	}
}
