package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/google/uuid"
)

// server holds what the handlers share.
type server struct {
	svc   *es.CommandService
	log   *slog.Logger
	posts posts
}

// NewServer returns the blog's HTTP handler, executing commands with svc (built
// from [blog.Register] or [blog.RegisterV2]) and reading its views and store.
// Posts are read as the registered post projector writes them: with their
// "archived" field from version 2 on. It logs to [slog.Default]. The handler is
// safe for concurrent use.
func NewServer(svc *es.CommandService) http.Handler {
	s := &server{svc: svc, log: slog.Default(), posts: postsOf(svc.Registry())}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /posts", s.addPost)
	mux.HandleFunc("GET /posts", s.listPosts)
	mux.HandleFunc("GET /posts/{id}", s.showPost)
	mux.HandleFunc("PUT /posts/{id}/title", s.changeTitle)
	mux.HandleFunc("POST /posts/{id}/publish", s.publishPost)
	mux.HandleFunc("POST /posts/{id}/archive", s.archivePost)
	mux.HandleFunc("GET /posts/{id}/events", s.postEvents)
	mux.HandleFunc("POST /authors", s.addAuthor)
	return s.recoverAndLog(mux)
}

// execute runs cmd, addressed to the aggregate id, on behalf of the X-User-ID
// user. Its error means that nothing was stored. A command that was stored is
// done, whatever failed after its commit: the answer says what it stored, and
// what failed (as data, logged).
func (s *server) execute(r *http.Request, id uuid.UUID, cmd any) (*executed, error) {
	var opts []es.ExecOption
	if user := r.Header.Get("X-User-ID"); user != "" {
		opts = append(opts, es.ByUser(user))
	}
	res, err := s.svc.Execute(r.Context(), cmd, opts...)
	if err != nil {
		return nil, err
	}
	out := &executed{ID: id, CommandID: res.CommandID, Events: make([]storedEvent, 0, len(res.Events))}
	for _, e := range res.Events {
		out.Events = append(out.Events, storedEvent{ID: e.ID, Type: e.Type, StreamID: e.StreamID, Version: e.Version, Position: e.Position})
	}
	for _, f := range res.Failures {
		out.FollowUpErrors = append(out.FollowUpErrors, s.followUpError(r, f))
	}
	return out, nil
}

// executed is the answer to a command that was stored (201 or 200, whatever
// failed after its commit): the aggregate it addressed, its command record,
// the events it stored, what failed after it and, for a post, the post as the
// post_records view shows it now.
type executed struct {
	ID             uuid.UUID       `json:"id"`
	CommandID      uuid.UUID       `json:"command_id"`
	Events         []storedEvent   `json:"events"`
	FollowUpErrors []followUpError `json:"follow_up_errors,omitempty"`
	Post           any             `json:"post,omitempty"`
}

// storedEvent is an event a command stored: its id, type, stream, version in
// the stream and position in the global log.
type storedEvent struct {
	ID       uuid.UUID `json:"id"`
	Type     string    `json:"type"`
	StreamID uuid.UUID `json:"stream_id"`
	Version  int64     `json:"version"`
	Position int64     `json:"position"`
}

// followUpError is something that failed after a command committed: a
// synchronous workflow reacting to its events, a command the workflow issued,
// an after-commit hook. Error is what a client may read (see problemOf); the
// details are logged.
type followUpError struct {
	Workflow string `json:"workflow,omitempty"`
	Command  string `json:"command,omitempty"`
	Error    string `json:"error"`
}

// followUpError describes failure f of a committed command, and logs it.
func (s *server) followUpError(r *http.Request, f error) followUpError {
	s.log.WarnContext(r.Context(), "command stored, but a follow-up failed", "method", r.Method, "path", r.URL.Path, "err", f)
	_, p, _ := problemOf(f)
	out := followUpError{Error: p.Error}
	if we, ok := errors.AsType[*es.WorkflowError](f); ok {
		out.Workflow = we.Workflow
		if we.Command != nil {
			out.Command = fmt.Sprintf("%T", we.Command)
			if name, ok := s.svc.Registry().CommandName(we.Command); ok {
				out.Command = name
			}
		}
	} else if ac, ok := errors.AsType[*es.AfterCommitError](f); ok {
		out.Command = ac.Command
	}
	return out
}

func (s *server) addPost(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Author  string `json:"author"`
		Title   string `json:"title"`
		Content string `json:"content"`
	}
	if err := decode(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := s.svc.NewID()
	done, err := s.execute(r, id, blog.AddPost{PostID: id, Author: body.Author, Title: body.Title, Content: body.Content})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/posts/"+id.String())
	s.writeExecuted(w, r, http.StatusCreated, done, true)
}

func (s *server) changeTitle(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body struct {
		Title string `json:"title"`
	}
	if err := decode(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	done, err := s.execute(r, id, blog.ChangePostTitle{PostID: id, Title: body.Title})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeExecuted(w, r, http.StatusOK, done, true)
}

func (s *server) publishPost(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	done, err := s.execute(r, id, blog.PublishPost{PostID: id})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeExecuted(w, r, http.StatusOK, done, true)
}

func (s *server) archivePost(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	done, err := s.execute(r, id, blog.ArchivePost{PostID: id})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeExecuted(w, r, http.StatusOK, done, true)
}

func (s *server) addAuthor(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if err := decode(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := s.svc.NewID()
	done, err := s.execute(r, id, blog.AddAuthor{AuthorID: id, Name: body.Name, Email: body.Email})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeExecuted(w, r, http.StatusCreated, done, false)
}

func (s *server) listPosts(w http.ResponseWriter, r *http.Request) {
	where := es.Where{}
	if author := r.URL.Query().Get("author"); author != "" {
		where["author"] = author
	}
	posts, err := s.posts.find(r.Context(), s.svc.Views(), where)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, posts)
}

func (s *server) showPost(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writePost(w, r, id)
}

// writeExecuted answers with what a command that was stored did, and with the
// post it addressed (when post is set) as post_records shows it: inline
// projectors commit with the events, so the row already reflects the command.
// The command is stored: a post that cannot be read now (the view failed) is
// left out, and logged.
func (s *server) writeExecuted(w http.ResponseWriter, r *http.Request, status int, done *executed, post bool) {
	if post {
		p, err := s.posts.get(r.Context(), s.svc.Views(), es.Where{"aggregate_id": done.ID})
		if err != nil {
			s.log.ErrorContext(r.Context(), "command stored, but its post could not be read", "method", r.Method, "path", r.URL.Path, "err", err)
		} else {
			done.Post = p
		}
	}
	writeJSON(w, status, done)
}

// writePost answers with the post's row in post_records.
func (s *server) writePost(w http.ResponseWriter, r *http.Request, id uuid.UUID) {
	post, err := s.posts.get(r.Context(), s.svc.Views(), es.Where{"aggregate_id": id})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, post)
}

// posts reads post_records with the row type of one version of the post projector.
type posts interface {
	find(ctx context.Context, views es.Persistor, where es.Where) (any, error)
	get(ctx context.Context, views es.Persistor, where es.Where) (any, error)
}

// postsOf reads post_records as the post projector registered in reg writes
// them. Until a new version's tables are swapped in, the live table is the old
// version's: the columns it lacks read as zero values.
func postsOf(reg *es.Registry) posts {
	for _, p := range reg.Projectors() {
		if p.Name() == "post_projector" && p.Version() >= 2 {
			return postTable[blog.PostRecordV2]{blog.PostRecordsV2}
		}
	}
	return postTable[blog.PostRecord]{blog.PostRecords}
}

type postTable[R any] struct{ t *es.Table[R] }

func (p postTable[R]) find(ctx context.Context, views es.Persistor, where es.Where) (any, error) {
	return p.t.Find(ctx, views, where)
}

func (p postTable[R]) get(ctx context.Context, views es.Persistor, where es.Where) (any, error) {
	return p.t.Get(ctx, views, where)
}

// event is one entry of a post's history: the event and the command behind it.
type event struct {
	Type    string    `json:"type"`
	Version int64     `json:"version"`
	Time    time.Time `json:"time"`
	Payload any       `json:"payload"`
	Command *command  `json:"command,omitempty"`
}

type command struct {
	ID      uuid.UUID       `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
	User    string          `json:"user,omitempty"`
	Time    time.Time       `json:"time"`
}

func (s *server) postEvents(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	history, err := s.history(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, history)
}

// history returns the events of post id, oldest first, each joined with its
// command record: the audit trail.
func (s *server) history(ctx context.Context, id uuid.UUID) ([]event, error) {
	envs, err := s.svc.History(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(envs) == 0 || envs[0].StreamType != "blog.Post" {
		return nil, es.ErrAggregateNotFound
	}
	var ids []uuid.UUID
	for _, e := range envs {
		if !slices.Contains(ids, e.CommandID) {
			ids = append(ids, e.CommandID)
		}
	}
	recs, err := s.svc.Store().Commands(ctx, ids...)
	if err != nil {
		return nil, err
	}
	cmds := make(map[uuid.UUID]*command, len(recs))
	for _, c := range recs {
		cmds[c.ID] = &command{ID: c.ID, Type: c.Type, Payload: c.Data, User: c.UserID, Time: c.Time}
	}
	out := make([]event, 0, len(envs))
	for _, e := range envs {
		out = append(out, event{Type: e.Type, Version: e.Version, Time: e.Time, Payload: e.Event, Command: cmds[e.CommandID]})
	}
	return out, nil
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body) // the status is sent; a failed write means the client left
}

// statusWriter remembers the status a handler sent, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// recoverAndLog logs every request and turns a handler's panic into a 500
// rather than a dropped connection.
func (s *server) recoverAndLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeJSON(sw, http.StatusInternalServerError, problem{Error: "internal error"})
			}
			s.log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}
