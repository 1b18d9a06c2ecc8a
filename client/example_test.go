package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/shortify/shortify/client"
)

// Example is the example of docs/client.md: shorten a URL, handle a
// refusal, read the link's clicks. It needs a running instance, so it is
// compiled, not run.
func Example() {
	ctx := context.Background()
	c, err := client.New("https://sho.example", client.WithAPIKey(os.Getenv("SHORTIFY_API_KEY")))
	if err != nil {
		log.Fatal(err)
	}
	link, err := c.CreateLink(ctx, client.CreateLinkRequest{URL: "https://example.com/launch", Alias: "launch"})
	var p *client.Problem
	if errors.As(err, &p) {
		log.Fatalf("refused: %s (field %q)", p.Detail, p.Field)
	} else if err != nil {
		log.Fatal(err)
	}
	stats, err := c.LinkStats(ctx, link.Code, client.StatsQuery{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(link.ShortURL, stats.Totals.Clicks)
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
