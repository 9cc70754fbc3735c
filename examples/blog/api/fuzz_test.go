package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/examples/blog/api"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/memstore"
)

// FuzzAPI sends arbitrary requests, one after another to the same service, and
// requires an answer below 500 to every one: bad input is the client's error,
// never the server's. `go test -fuzz FuzzAPI ./examples/blog/api` explores
// further; plain test runs replay the seeds.
func FuzzAPI(f *testing.F) {
	seeds := []struct{ method, path, user, body string }{
		{"POST", "/posts", "ben", `{"author":"ben","title":"Hi","content":"x"}`},
		{"POST", "/posts", "", `{"author":"","title":1,"content":null}`},
		{"POST", "/posts", "", `{"author":"ben","title":"Hi","content":"x","extra":[1,2]}`},
		{"PUT", "/posts/00000000-0000-0000-0000-000000000001/title", "ben", `{"title":"New"}`},
		{"POST", "/posts/00000000-0000-0000-0000-000000000001/publish", "", ``},
		{"POST", "/posts/00000000-0000-0000-0000-000000000001/archive", "", ``},
		{"POST", "/posts/not-a-uuid/publish", "", `{}`},
		{"GET", "/posts/00000000-0000-0000-0000-000000000001/events", "", ``},
		{"GET", "/posts?author=%ff", "", ``},
		{"POST", "/authors", "", `{"name":"Ann","email":"ann@example.com"}`},
		{"POST", "/authors", "", `{"name":"Ann","email":"ANN@example.com "}`},
		{"POST", "/authors", "", "{\"name\":\"\\ud800\",\"email\":\"\x00\"}"},
		{"POST", "/posts", "", `[`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.user, s.body)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	reg := es.NewRegistry()
	blog.Register(reg)
	svc, err := es.NewCommandService(context.Background(), reg, memstore.New(), es.Options{})
	if err != nil {
		f.Fatal(err)
	}
	handler := api.NewServer(svc)
	f.Fuzz(func(t *testing.T, method, path, user, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n#") {
			t.Skip() // not a request line a client could send
		}
		req, err := http.NewRequest(method, "http://blog"+path, strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		if user != "" {
			req.Header.Set("X-User-ID", user)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s (user %q) %q: %d %s", method, path, user, body, rec.Code, rec.Body)
		}
	})
}
