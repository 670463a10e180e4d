package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/web"
)

func ExampleFileServer() {
	fsys := fileroot.NewMemFS()
	h := &web.FileServer{
		FS: fsys,
		Auth: func(ctx context.Context, user, pass string) (bool, error) {
			if user == "alice" && pass == "secret" {
				return true, nil
			}
			return false, web.ErrAuthFailed
		},
	}
	ts := httptest.NewServer(h)
	defer ts.Close()

	req, _ := http.NewRequest("PUT", ts.URL+"/notes/hello.txt", strings.NewReader("hello, world\n"))
	req.SetBasicAuth("alice", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)

	resp, err = http.Get(ts.URL + "/notes/hello.txt")
	if err != nil {
		panic(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.Status, " ", string(b))
	// Output:
	// 201 Created
	// 200 OK hello, world
}

// ExampleServer mounts another handler beside the files, as the inetkit
// command mounts XML-RPC at /RPC2.
func ExampleServer() {
	root, err := fileroot.Open("/srv/files")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer root.Close()
	mux := http.NewServeMux()
	mux.Handle("/", &web.FileServer{FS: root})
	mux.HandleFunc("POST /RPC2", func(w http.ResponseWriter, r *http.Request) {
		// The Server caps r.Body at Limits.MaxBodyBytes.
	})
	srv := &web.Server{
		Addr:    "127.0.0.1:8080",
		Handler: mux,
		Limits:  web.Limits{MaxConnsPerIP: 30},
	}
	go srv.ListenAndServe()
	defer srv.Shutdown(context.Background())
}
