package gopher_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"testing/fstest"

	"github.com/inetkit/inetkit/gopher"
	"github.com/inetkit/inetkit/gopher/gophertest"
)

func ExampleServer() {
	fsys := fstest.MapFS{
		"about.txt":  {Data: []byte("A Gopher hole.\n")},
		"docs/a.txt": {Data: []byte("a\n")},
	}
	mux := gopher.NewServeMux()
	mux.Handle("/", gopher.FileServer(fsys, nil))
	mux.HandleFunc("/hello", func(w gopher.ResponseWriter, r *gopher.Request) {
		mw := gopher.NewMenuWriter(w, r)
		mw.Info("Hello, " + r.RemoteAddr.Network() + " client")
		mw.Item(gopher.Item{Type: gopher.TypeText, Display: "About", Selector: "/about.txt"})
		mw.Close()
	})
	s := gophertest.NewServer(mux) // or (&gopher.Server{Addr: ":70", Handler: mux}).ListenAndServe()
	defer s.Close()

	resp, err := s.Client().Get(context.Background(), s.URLFor(gopher.TypeMenu, "/hello"))
	if err != nil {
		log.Fatal(err)
	}
	items, _ := resp.Menu()
	for _, it := range items {
		fmt.Printf("%s %q %q\n", it.Type, it.Display, it.Selector)
	}
	// Output:
	// info "Hello, tcp client" ""
	// text "About" "/about.txt"
}

func ExampleClient() {
	s := gophertest.NewServer(gopher.FileServer(fstest.MapFS{
		"docs/a.txt": {Data: []byte("alpha\n")},
		"docs/b.gif": {Data: []byte("GIF89a")},
	}, nil))
	defer s.Close()

	c := &gopher.Client{}
	resp, err := c.Get(context.Background(), s.URL+"/1/docs")
	if err != nil {
		log.Fatal(err)
	}
	items, _ := resp.Menu()
	for _, it := range items {
		fmt.Printf("%s %s %s\n", it.Type, it.Display, it.Selector)
	}
	file, err := c.Get(context.Background(), s.URLFor(items[0].Type, items[0].Selector))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", file.Body)
	// Output:
	// text a.txt /docs/a.txt
	// gif b.gif /docs/b.gif
	// "alpha\n"
}

func ExampleParseURL() {
	u, err := gopher.ParseURL("gopher://gopher.example:7070/7/search%09stra%C3%9Fe")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Addr(), u.Type, u.Selector, u.Search)
	// Output: gopher.example:7070 search /search straße
}

func ExampleParseMenu() {
	menu := "iWelcome\t\tnull.host\t1\r\n" +
		"1Docs\t/docs\tgopher.example\t70\r\n" +
		"hWeb\tURL:https://example.org/\tgopher.example\t70\r\n" +
		".\r\n"
	items, err := gopher.ParseMenu(strings.NewReader(menu))
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range items {
		fmt.Printf("%s %q %q\n", it.Type, it.Display, it.URL())
	}
	// Output:
	// info "Welcome" ""
	// menu "Docs" "gopher://gopher.example/1/docs"
	// html "Web" "https://example.org/"
}
