package browser_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/consequent/consequent/browser"
	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/memstore"
)

// The browser beside an application's own routes, open to requests from the
// machine itself only.
func ExampleNew() {
	ctx := context.Background()
	reg := es.NewRegistry()
	blog.Register(reg)
	store := memstore.New()
	svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
	if err != nil {
		panic(err)
	}
	postID := estest.ID(1)
	if _, err := svc.Execute(ctx, blog.AddPost{PostID: postID, Author: "ben", Title: "Hello", Content: "World"}, es.ByUser("ben")); err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/_consequent/", browser.New(reg, store, browser.Options{
		Prefix: "/_consequent",
		Authorize: func(r *http.Request) error {
			if !strings.HasPrefix(r.RemoteAddr, "127.0.0.1:") && !strings.HasPrefix(r.RemoteAddr, "[::1]:") {
				return fmt.Errorf("only from this machine")
			}
			return nil
		},
	}))

	page := httptest.NewRecorder()
	mux.ServeHTTP(page, httptest.NewRequest(http.MethodGet, "/_consequent/streams/"+postID.String(), nil))
	fmt.Println(page.Code, strings.Contains(page.Body.String(), "blog.PostTitleChanged"))

	local := httptest.NewRequest(http.MethodGet, "/_consequent/streams/"+postID.String(), nil)
	local.RemoteAddr = "127.0.0.1:50000"
	page = httptest.NewRecorder()
	mux.ServeHTTP(page, local)
	fmt.Println(page.Code, strings.Contains(page.Body.String(), "blog.PostTitleChanged"))
	// Output:
	// 403 false
	// 200 true
}
