package natspub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a published message. The event's id is its Nats-Msg-Id
// (HeaderEventID); its place in the publisher's log is "<TxID>:<Position>"
// (HeaderPosition), what a restart resumes after.
const (
	HeaderEventID       = jetstream.MsgIDHeader // "Nats-Msg-Id"
	HeaderEventType     = "Consequent-Event-Type"
	HeaderSchema        = "Consequent-Schema"
	HeaderStreamID      = "Consequent-Stream-Id"
	HeaderStreamType    = "Consequent-Stream-Type"
	HeaderVersion       = "Consequent-Version"
	HeaderPosition      = "Consequent-Position"
	HeaderTime          = "Consequent-Time"
	HeaderCommandID     = "Consequent-Command-Id"
	HeaderCorrelationID = "Consequent-Correlation-Id"
	HeaderCausationID   = "Consequent-Causation-Id"
	HeaderUserID        = "Consequent-User-Id"
	HeaderMetadata      = "Consequent-Metadata" // a JSON object, when the event has metadata
)

// Config configures a [Publisher]. Stream is required; the zero value of the
// rest works.
type Config struct {
	// Stream is the JetStream stream the events go to. It must exist and
	// take the subjects below; its duplicate window (Duplicates) is what
	// drops a message published twice within it.
	Stream string
	// Name is the subscription's name, under which its checkpoint is kept
	// (default "natspub"; "subscription:natspub" for ProjectionWorker.Resume).
	Name string
	// Prefix is the first token of every subject: a message goes to
	// Prefix.<event type> (default "events"). Characters a subject cannot
	// hold (space, '*', '>') become '_'.
	Prefix string
	// Subject, when set, names the subject of each event instead; every
	// subject must match Prefix.> so that a restart finds the last message.
	Subject func(es.EventRecord) string
	// Types restricts publishing to these registered event types (default: all).
	Types []string
}

// Publisher publishes events to a JetStream stream (see the package doc). It
// is safe for concurrent use; a worker runs one partition of it at a time.
type Publisher struct {
	js     jetstream.JetStream
	cfg    Config
	stream jetstream.Stream
	sub    *es.Subscription
	mu     sync.Mutex
	last   string // the id of the last event the stream holds, as far as this publisher knows
}

// New returns a publisher to the stream cfg.Stream, which must exist.
func New(ctx context.Context, js jetstream.JetStream, cfg Config) (*Publisher, error) {
	if cfg.Stream == "" {
		return nil, errors.New("natspub: Config.Stream is empty: name the JetStream stream to publish to")
	}
	if cfg.Name == "" {
		cfg.Name = "natspub"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "events"
	}
	stream, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("natspub: stream %s: %w", cfg.Stream, err)
	}
	p := &Publisher{js: js, cfg: cfg, stream: stream}
	p.sub = es.NewBatchSubscription(cfg.Name, p.publish).Raw().Types(cfg.Types...).ResumeFrom(p.resume)
	return p, nil
}

// Subscription returns the subscription that publishes: register it with
// [es.Registry.AddSubscription] and run an [es.ProjectionWorker].
func (p *Publisher) Subscription() *es.Subscription { return p.sub }

// subject returns the subject of rec.
func (p *Publisher) subject(rec es.EventRecord) string {
	if p.cfg.Subject != nil {
		return p.cfg.Subject(rec)
	}
	return p.cfg.Prefix + "." + subjectSafe.Replace(rec.Type)
}

var subjectSafe = strings.NewReplacer(" ", "_", "*", "_", ">", "_", "\t", "_")

// publish publishes a batch of events, pipelined: each message is sent
// without waiting for the acknowledgement of the one before, and each expects
// the one before it as the stream's last message (Nats-Expected-Last-Msg-Id),
// so that a message that fails makes every later one fail too: the stream
// never holds a gap, nor an event out of order. It returns how many of the
// events the stream acknowledged, in order.
func (p *Publisher) publish(ctx context.Context, events []es.Envelope) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	acks := make([]jetstream.PubAckFuture, 0, len(events))
	last, sendErr := p.last, error(nil)
	for _, e := range events {
		msg, err := Message(p.subject(e.EventRecord), e.EventRecord) // Nats-Msg-Id: the event id
		if err != nil {
			sendErr = err
			break
		}
		if last != "" {
			msg.Header[jetstream.ExpectedLastMsgIDHeader] = []string{last}
		}
		ack, err := p.js.PublishMsgAsync(msg)
		if err != nil {
			sendErr = err
			break
		}
		acks, last = append(acks, ack), e.ID.String()
	}
	for i, ack := range acks {
		e := events[i]
		select {
		case <-ack.Ok():
			p.last = e.ID.String()
		case err := <-ack.Err():
			return i, fmt.Errorf("natspub: publish %s of stream %s version %d: %w", e.Type, e.StreamID, e.Version, err)
		case <-ctx.Done():
			return i, ctx.Err()
		}
	}
	if sendErr != nil {
		e := events[len(acks)]
		return len(acks), fmt.Errorf("natspub: publish %s of stream %s version %d: %w", e.Type, e.StreamID, e.Version, sendErr)
	}
	return len(events), nil
}

// Message builds the message a publisher sends for rec on subject.
func Message(subject string, rec es.EventRecord) (*nats.Msg, error) {
	h := make(nats.Header, 14)
	h[HeaderEventID] = []string{rec.ID.String()}
	h[HeaderEventType] = []string{rec.Type}
	h[HeaderSchema] = []string{strconv.Itoa(rec.Schema)}
	h[HeaderStreamID] = []string{rec.StreamID.String()}
	h[HeaderStreamType] = []string{rec.StreamType}
	h[HeaderVersion] = []string{strconv.FormatInt(rec.Version, 10)}
	h[HeaderPosition] = []string{strconv.FormatUint(rec.TxID, 10) + ":" + strconv.FormatInt(rec.Position, 10)}
	h[HeaderTime] = []string{rec.Time.UTC().Format(time.RFC3339Nano)}
	h[HeaderCommandID] = []string{rec.CommandID.String()}
	h[HeaderCorrelationID] = []string{rec.CorrelationID.String()}
	h[HeaderCausationID] = []string{rec.CausationID.String()}
	if rec.UserID != "" {
		h[HeaderUserID] = []string{rec.UserID}
	}
	if len(rec.Metadata) > 0 {
		meta, err := json.Marshal(rec.Metadata)
		if err != nil {
			return nil, fmt.Errorf("natspub: event %s: metadata: %w", rec.ID, err)
		}
		h[HeaderMetadata] = []string{string(meta)}
	}
	return &nats.Msg{Subject: subject, Header: h, Data: rec.Data}, nil
}

// resume is where the worker asks where to resume, when it takes the
// publisher's lease: it also learns the stream's last message id, the one the
// next publish expects.
func (p *Publisher) resume(ctx context.Context) (es.Cursor, error) {
	c, id, err := p.lastPublished(ctx)
	if err != nil {
		return c, err
	}
	p.mu.Lock()
	p.last = id
	p.mu.Unlock()
	return c, nil
}

// LastPublished returns the log position of the last event the stream holds
// on the publisher's subjects (the zero cursor when it holds none): where a
// restarted publisher resumes.
func (p *Publisher) LastPublished(ctx context.Context) (es.Cursor, error) {
	c, _, err := p.lastPublished(ctx)
	return c, err
}

func (p *Publisher) lastPublished(ctx context.Context) (es.Cursor, string, error) {
	last, err := p.stream.GetLastMsgForSubject(ctx, p.cfg.Prefix+".>")
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return es.Cursor{}, "", nil
	}
	if err != nil {
		return es.Cursor{}, "", fmt.Errorf("natspub: last message of stream %s: %w", p.cfg.Stream, err)
	}
	c, err := CursorOf(last.Header)
	if err != nil {
		return es.Cursor{}, "", fmt.Errorf("natspub: last message of stream %s (sequence %d): %w", p.cfg.Stream, last.Sequence, err)
	}
	return c, last.Header.Get(HeaderEventID), nil
}

// CursorOf returns the log position a published message carries.
func CursorOf(h nats.Header) (es.Cursor, error) {
	txs, poss, ok := strings.Cut(h.Get(HeaderPosition), ":")
	if !ok {
		return es.Cursor{}, fmt.Errorf("natspub: header %s is %q, not <tx>:<position> (not a message of natspub?)", HeaderPosition, h.Get(HeaderPosition))
	}
	tx, err := strconv.ParseUint(txs, 10, 64)
	if err != nil {
		return es.Cursor{}, fmt.Errorf("natspub: header %s: %w", HeaderPosition, err)
	}
	pos, err := strconv.ParseInt(poss, 10, 64)
	if err != nil {
		return es.Cursor{}, fmt.Errorf("natspub: header %s: %w", HeaderPosition, err)
	}
	return es.Cursor{TxID: tx, Position: pos}, nil
}

// Record turns a published message's headers and data back into the event
// record as the publisher's store kept it.
func Record(h nats.Header, data []byte) (es.EventRecord, error) {
	var rec es.EventRecord
	var errs []error
	id := func(name string) uuid.UUID {
		v := h.Get(name)
		if v == "" {
			return uuid.Nil
		}
		u, err := uuid.Parse(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("header %s: %w", name, err))
		}
		return u
	}
	rec.ID, rec.StreamID = id(HeaderEventID), id(HeaderStreamID)
	rec.CommandID, rec.CorrelationID, rec.CausationID = id(HeaderCommandID), id(HeaderCorrelationID), id(HeaderCausationID)
	rec.Type, rec.StreamType, rec.UserID = h.Get(HeaderEventType), h.Get(HeaderStreamType), h.Get(HeaderUserID)
	if rec.Type == "" || rec.ID == uuid.Nil {
		return rec, errors.New("natspub: the message has no event id or type header: not published by natspub")
	}
	var err error
	if rec.Schema, err = strconv.Atoi(h.Get(HeaderSchema)); err != nil {
		errs = append(errs, fmt.Errorf("header %s: %w", HeaderSchema, err))
	}
	if rec.Version, err = strconv.ParseInt(h.Get(HeaderVersion), 10, 64); err != nil {
		errs = append(errs, fmt.Errorf("header %s: %w", HeaderVersion, err))
	}
	if c, err := CursorOf(h); err != nil {
		errs = append(errs, err)
	} else {
		rec.TxID, rec.Position = c.TxID, c.Position
	}
	if rec.Time, err = time.Parse(time.RFC3339Nano, h.Get(HeaderTime)); err != nil {
		errs = append(errs, fmt.Errorf("header %s: %w", HeaderTime, err))
	}
	if m := h.Get(HeaderMetadata); m != "" {
		if err := json.Unmarshal([]byte(m), &rec.Metadata); err != nil {
			errs = append(errs, fmt.Errorf("header %s: %w", HeaderMetadata, err))
		}
	}
	rec.Data = data
	if err := errors.Join(errs...); err != nil {
		return rec, fmt.Errorf("natspub: event %s: %w", rec.ID, err)
	}
	return rec, nil
}

// Decode turns a published message back into an envelope whose Event is
// typed by reg, the consuming application's registry (its upcasters apply).
//
//	for msg := range batch.Messages() {
//		env, err := natspub.Decode(reg, msg.Headers(), msg.Data())
//		…
//		switch ev := env.Event.(type) { case blog.PostPublished: … }
//	}
func Decode(reg *es.Registry, h nats.Header, data []byte) (es.Envelope, error) {
	rec, err := Record(h, data)
	if err != nil {
		return es.Envelope{}, err
	}
	return reg.Decode(rec)
}
