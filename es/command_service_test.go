package es_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("CommandService", func() {
	Describe("Execute", func() {
		It("stores the handler's events with their envelope and the command record", func() {
			w := newWorld(nil)
			id := uuid.New()
			w.exec(OpenAccount{ID: id, Owner: "Ann", Email: "ann@example.com"}, es.ByUser("clerk-7"), es.WithMetadata("ip", "10.0.0.1"))

			envs, err := w.svc.History(w.ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(envs).To(HaveLen(1))
			e := envs[0]
			Expect(e.Event).To(Equal(AccountOpened{Owner: "Ann", Email: "ann@example.com"}))
			Expect(e.StreamID).To(Equal(id))
			Expect(e.StreamType).To(Equal("bank.Account"))
			Expect(e.Type).To(Equal("bank.AccountOpened"))
			Expect(e.Version).To(Equal(int64(1)))
			Expect(e.Schema).To(Equal(1))
			Expect(e.Position).To(BeNumerically(">", 0))
			Expect(e.Time).To(Equal(testStart))
			Expect(e.UserID).To(Equal("clerk-7"))
			Expect(e.Metadata).To(Equal(map[string]string{"ip": "10.0.0.1"}))
			Expect(e.CausationID).To(Equal(e.CommandID))
			Expect(e.CorrelationID).To(Equal(e.CommandID), "a command starts its own correlation")

			cmds, err := w.store.Commands(w.ctx, e.CommandID)
			Expect(err).NotTo(HaveOccurred())
			Expect(cmds).To(HaveLen(1))
			Expect(cmds[0].Type).To(Equal("bank.OpenAccount"))
			Expect(cmds[0].UserID).To(Equal("clerk-7"))
			Expect(cmds[0].Data).To(MatchJSON(fmt.Sprintf(`{"ID":%q,"Owner":"Ann","Email":"ann@example.com"}`, id)))
		})

		It("keeps a correlation id given by the caller", func() {
			w := newWorld(nil)
			corr := uuid.New()
			id := uuid.New()
			w.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"}, es.WithCorrelationID(corr))
			envs, _ := w.svc.History(w.ctx, id)
			Expect(envs[0].CorrelationID).To(Equal(corr))
		})

		It("commits a handler that records nothing, storing no events", func() {
			w := newWorld(func(r *es.Registry) {
				RegisterBank(r)
				es.Handle(r, "spec.Noop", func(context.Context, *es.UnitOfWork, struct{}) error { return nil })
			})
			w.exec(struct{}{})
			Expect(w.log()).To(BeEmpty())
		})
	})

	Describe("Execute's result", func() {
		It("holds the command record's id and the events stored, with their versions, log positions and transaction", func() {
			w := newWorld(nil)
			from, to := w.open("Ann", "a@x"), w.open("Bob", "b@x")
			w.exec(Deposit{ID: from, Amount: 50})
			res, err := w.svc.Execute(w.ctx, Transfer{From: from, To: to, Amount: 20})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.CommandID).NotTo(BeZero())
			cmds, err := w.store.Commands(w.ctx, res.CommandID)
			Expect(err).NotTo(HaveOccurred())
			Expect(cmds).To(HaveExactElements(HaveField("Type", "bank.Transfer")))
			Expect(res.Events).To(HaveExactElements(
				And(HaveField("StreamID", from), HaveField("Version", BeEquivalentTo(3)), HaveField("Event", Withdrawn{Amount: 20})),
				And(HaveField("StreamID", to), HaveField("Version", BeEquivalentTo(2)), HaveField("Event", Deposited{Amount: 20}))))
			log := w.log()
			Expect(log).To(HaveLen(5))
			for i, e := range res.Events {
				Expect(e.CommandID).To(Equal(res.CommandID))
				Expect(e.ID).To(Equal(log[3+i].ID))
				Expect(e.Position).To(Equal(log[3+i].Position), "as the store assigned it")
				Expect(e.TxID).To(Equal(log[3+i].TxID))
				Expect(e.TxID).NotTo(BeZero())
			}
			Expect(res.Events[0].Position).To(BeNumerically("<", res.Events[1].Position))
			Expect(res.FollowUps).To(BeEmpty())
			Expect(res.Failures).To(BeEmpty())
			Expect(res.Err()).NotTo(HaveOccurred())
		})

		It("holds the command record's id of a handler that recorded nothing", func() {
			w := newWorld(func(r *es.Registry) {
				RegisterBank(r)
				es.Handle(r, "spec.Noop", func(context.Context, *es.UnitOfWork, struct{}) error { return nil })
			})
			res, err := w.svc.Execute(w.ctx, struct{}{})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Events).To(BeEmpty())
			cmds, err := w.store.Commands(w.ctx, res.CommandID)
			Expect(err).NotTo(HaveOccurred())
			Expect(cmds).To(HaveLen(1))
		})

		It("is nil when the command failed: the error means nothing was stored", func() {
			w := newWorld(nil)
			res, err := w.svc.Execute(w.ctx, Withdraw{ID: uuid.New(), Amount: 1})
			Expect(err).To(MatchError(es.ErrAggregateNotFound))
			Expect(res).To(BeNil())
			Expect(res.Err()).NotTo(HaveOccurred(), "Err is safe on nil")
			Expect(res.AllEvents()).To(BeEmpty())
		})

		It("reports middleware that fails after its handler committed as an *AfterCommitError: the command is stored", func() {
			errAudit := errors.New("audit log unreachable")
			w := newWorld(func(r *es.Registry) {
				RegisterBank(r)
				r.Use(func(next es.HandlerFunc) es.HandlerFunc {
					return func(ctx context.Context, cmd any) error {
						if err := next(ctx, cmd); err != nil {
							return err
						}
						return errAudit
					}
				})
			})
			id := uuid.New()
			res, err := w.svc.Execute(w.ctx, OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
			Expect(err).NotTo(HaveOccurred(), "the command committed")
			Expect(res.Events).To(HaveLen(1))
			Expect(w.events(id)).To(HaveLen(1))
			Expect(res.Failures).To(HaveLen(1))
			var ac *es.AfterCommitError
			Expect(errors.As(res.Failures[0], &ac)).To(BeTrue(), "got %v", res.Failures[0])
			Expect(ac.Command).To(Equal("bank.OpenAccount"))
			Expect(res.Err()).To(MatchError(errAudit))
			Expect(res.Err()).To(MatchError("es: command bank.OpenAccount committed, but middleware failed after the commit: audit log unreachable"))
		})

		It("lists what workflows issued, with the events each stored, and the failures of follow-ups' hooks", func() {
			counter := uuid.New()
			var hooked int
			w := newWorld(func(r *es.Registry) {
				RegisterBank(r)
				r.AddWorkflow(welcome(counter))
				r.AfterCommit(func(_ context.Context, envs []es.Envelope) {
					if hooked++; len(envs) > 0 && envs[0].Type == "bank.Incremented" {
						panic("counter hook")
					}
				})
			})
			id := uuid.New()
			res, err := w.svc.Execute(w.ctx, OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
			Expect(err).NotTo(HaveOccurred())
			Expect(hooked).To(Equal(4))
			Expect(res.FollowUps).To(HaveExactElements(
				And(HaveField("Workflow", "welcome"), HaveField("Command", Deposit{ID: id, Amount: 1}), HaveField("Cause.Type", "bank.AccountOpened"), HaveField("Err", BeNil())),
				And(HaveField("Command", Deposit{ID: id, Amount: 2}), HaveField("Events", HaveExactElements(HaveField("Version", BeEquivalentTo(3))))),
				And(HaveField("Command", Increment{ID: counter, By: 1}), HaveField("Cause.Type", "bank.Deposited"), HaveField("Err", BeNil())),
			))
			for _, f := range res.FollowUps {
				Expect(f.CommandID).NotTo(BeZero())
				Expect(f.Events).To(HaveLen(1))
				Expect(f.Events[0].CommandID).To(Equal(f.CommandID))
				Expect(f.Events[0].CausationID).To(Equal(f.CommandID))
			}
			Expect(res.AllEvents()).To(HaveLen(4))
			Expect(res.Failures).To(HaveLen(1))
			Expect(res.Err()).To(MatchError(ContainSubstring("command bank.Increment committed, but an after-commit hook failed: panic: counter hook")))
		})
	})

	Describe("validation", func() {
		It("returns a *ValidationError naming every field and the command, and stores nothing", func() {
			w := newWorld(nil)
			_, err := w.svc.Execute(w.ctx, OpenAccount{Owner: " ", Email: "nope"})
			var ve *es.ValidationError
			Expect(errors.As(err, &ve)).To(BeTrue(), "got %v", err)
			Expect(ve.Command).To(Equal("bank.OpenAccount"))
			Expect(ve.Fields).To(Equal(map[string][]string{
				"ID":    {"is required"},
				"Owner": {"can't be blank"},
				"Email": {"is not an email address"},
			}))
			Expect(err.Error()).To(Equal("invalid bank.OpenAccount: Email is not an email address; ID is required; Owner can't be blank"))
			Expect(w.log()).To(BeEmpty())
		})

		It("does not run the handler of an invalid command", func() {
			ran := false
			w := newWorld(func(r *es.Registry) {
				RegisterBank(r)
				es.Handle(r, "spec.Strict", func(context.Context, *es.UnitOfWork, strict) error { ran = true; return nil })
			})
			Expect(w.svc.Execute(w.ctx, strict{})).Error().To(MatchError(ContainSubstring("invalid spec.Strict: Name is required")))
			Expect(ran).To(BeFalse())
			Expect(w.svc.Execute(w.ctx, strict{Name: "x"})).To(estest.Committed())
			Expect(ran).To(BeTrue())
		})

		It("reads like rules: Check, Add and Err", func() {
			var v es.ValidationError
			Expect(v.Err()).To(BeNil())
			v.Check(true, "A", "fine")
			Expect(v.Err()).To(BeNil())
			v.Check(false, "A", "is bad")
			v.Add("A", "is worse")
			Expect(v.Err()).To(MatchError("invalid command: A is bad, is worse"))
		})
	})

	Describe("middleware", func() {
		It("runs in the order added, around validation, handler and commit", func() {
			var trace []string
			mw := func(name string) es.Middleware {
				return func(next es.HandlerFunc) es.HandlerFunc {
					return func(ctx context.Context, cmd any) error {
						trace = append(trace, name+" before")
						err := next(ctx, cmd)
						trace = append(trace, fmt.Sprintf("%s after (err: %v)", name, err != nil))
						return err
					}
				}
			}
			w := newWorld(func(r *es.Registry) {
				RegisterBank(r)
				r.Use(mw("outer"), mw("middle"))
				r.Use(mw("inner"))
				r.AfterCommit(func(context.Context, []es.Envelope) { trace = append(trace, "committed") })
			})
			w.open("Ann", "a@x")
			Expect(trace).To(Equal([]string{"outer before", "middle before", "inner before", "committed",
				"inner after (err: false)", "middle after (err: false)", "outer after (err: false)"}))

			trace = nil
			Expect(w.svc.Execute(w.ctx, Deposit{ID: uuid.New(), Amount: 0})).Error().To(HaveOccurred())
			Expect(trace).To(Equal([]string{"outer before", "middle before", "inner before",
				"inner after (err: true)", "middle after (err: true)", "outer after (err: true)"}), "validation runs inside middleware")
		})

		It("may refuse a command: nothing runs and nothing is stored", func() {
			errForbidden := errors.New("forbidden")
			ran := false
			w := newWorld(func(r *es.Registry) {
				RegisterBank(r)
				r.Use(func(next es.HandlerFunc) es.HandlerFunc {
					return func(ctx context.Context, cmd any) error {
						if _, ok := cmd.(OpenAccount); ok {
							return errForbidden
						}
						return next(ctx, cmd)
					}
				})
				es.Handle(r, "spec.Probe", func(context.Context, *es.UnitOfWork, strict) error { ran = true; return nil })
			})
			Expect(w.svc.Execute(w.ctx, OpenAccount{ID: uuid.New(), Owner: "A", Email: "a@x"})).Error().To(MatchError(errForbidden))
			Expect(w.log()).To(BeEmpty())
			Expect(w.svc.Execute(w.ctx, strict{Name: "x"})).To(estest.Committed())
			Expect(ran).To(BeTrue())
		})
	})

	Describe("a failing handler", func() {
		It("returns the handler's error naming the command, and stores nothing", func() {
			w := newWorld(nil)
			id := w.open("Ann", "a@x")
			_, err := w.svc.Execute(w.ctx, Withdraw{ID: id, Amount: 10})
			Expect(err).To(MatchError(ErrInsufficientFunds))
			Expect(err).To(MatchError(ContainSubstring("bank.Withdraw")))
			Expect(w.log()).To(HaveLen(1))
		})

		It("keeps nothing a handler recorded before it failed", func() {
			w := newWorld(func(r *es.Registry) {
				RegisterBank(r)
				es.Handle(r, "spec.HalfDone", func(ctx context.Context, u *es.UnitOfWork, cmd halfDone) error {
					a, err := es.Load[*Account](ctx, u, cmd.ID)
					if err != nil {
						return err
					}
					if err := a.Deposit(5); err != nil {
						return err
					}
					return errors.New("changed my mind")
				})
			})
			id := w.open("Ann", "a@x")
			Expect(w.svc.Execute(w.ctx, halfDone{ID: id})).Error().To(MatchError("es: command spec.HalfDone: changed my mind"))
			Expect(w.events(id)).To(HaveLen(1))
		})

		It("turns a panic into a *PanicError naming the command, and stores nothing", func() {
			w := newWorld(func(r *es.Registry) {
				RegisterBank(r)
				es.Handle(r, "spec.Panics", func(ctx context.Context, u *es.UnitOfWork, cmd halfDone) error {
					a, _ := es.Load[*Account](ctx, u, cmd.ID)
					_ = a.Deposit(5)
					panic("boom")
				})
			})
			id := w.open("Ann", "a@x")
			_, err := w.svc.Execute(w.ctx, halfDone{ID: id})
			var pe *es.PanicError
			Expect(errors.As(err, &pe)).To(BeTrue(), "got %v", err)
			Expect(pe.Value).To(Equal("boom"))
			Expect(string(pe.Stack)).To(ContainSubstring("command_service_test.go"))
			Expect(err).To(MatchError("es: command spec.Panics: panic: boom"))
			Expect(w.events(id)).To(HaveLen(1))
		})

		It("fails a command whose handler loads a missing aggregate with ErrAggregateNotFound", func() {
			w := newWorld(nil)
			_, err := w.svc.Execute(w.ctx, Deposit{ID: uuid.New(), Amount: 1})
			Expect(err).To(MatchError(es.ErrAggregateNotFound))
			Expect(err).To(MatchError(ContainSubstring("bank.Deposit")))
		})
	})

	Describe("a unit of work over several aggregates", func() {
		It("commits the events of every aggregate together", func() {
			w := newWorld(nil)
			from, to := w.open("Ann", "ann@x"), w.open("Bob", "bob@x")
			w.exec(Deposit{ID: from, Amount: 100})
			w.exec(Transfer{From: from, To: to, Amount: 30})
			Expect(w.account(from).Balance).To(Equal(int64(70)))
			Expect(w.account(to).Balance).To(Equal(int64(30)))
			log := w.log()
			last, prev := log[len(log)-1], log[len(log)-2]
			Expect(last.TxID).To(Equal(prev.TxID), "one transaction")
			Expect(last.CommandID).To(Equal(prev.CommandID))
		})

		It("writes nothing of any aggregate when one of them conflicts", func() {
			w := newWorld(nil)
			from, to := w.open("Ann", "ann@x"), w.open("Bob", "bob@x")
			w.exec(Deposit{ID: from, Amount: 100})
			interfere := true
			w2 := w.withRegistry(func(r *es.Registry) {
				RegisterBank(r)
				// a transfer during which someone else deposits to the receiving account
				es.Handle(r, "spec.RacyTransfer", func(ctx context.Context, u *es.UnitOfWork, cmd racyTransfer) error {
					a, err := es.Load[*Account](ctx, u, cmd.From)
					if err != nil {
						return err
					}
					b, err := es.Load[*Account](ctx, u, cmd.To)
					if err != nil {
						return err
					}
					if interfere {
						interfere = false
						Expect(w.svc.Execute(ctx, Deposit{ID: cmd.To, Amount: 1})).To(estest.Committed())
					}
					if err := a.Withdraw(cmd.Amount); err != nil {
						return err
					}
					return b.Deposit(cmd.Amount)
				})
			}, es.Options{})
			before := w.log()
			_, err := w2.svc.Execute(w.ctx, racyTransfer{From: from, To: to, Amount: 30})
			Expect(err).To(MatchError(es.ErrConcurrencyConflict))
			after := w.log()
			Expect(after).To(HaveLen(len(before)+1), "only the interfering deposit")
			Expect(after[len(after)-1].StreamID).To(Equal(to))
			Expect(w.account(from).Balance).To(Equal(int64(100)))
			Expect(w.account(to).Balance).To(Equal(int64(1)))
		})
	})

	Describe("concurrency", func() {
		const racers = 8
		race := func(w *world, id uuid.UUID) []error {
			var wg sync.WaitGroup
			errs := make([]error, racers)
			start := make(chan struct{})
			for i := range racers {
				wg.Go(func() {
					<-start
					_, errs[i] = w.svc.Execute(w.ctx, Increment{ID: id, By: 1})
				})
			}
			close(start)
			wg.Wait()
			return errs
		}

		It("with ConflictRetries, runs every racing command exactly once", func() {
			w := newWorld(nil, es.Options{ConflictRetries: 50})
			id := uuid.New()
			w.exec(Increment{ID: id, By: 1})
			for _, err := range race(w, id) {
				Expect(err).NotTo(HaveOccurred())
			}
			c, err := es.LoadAt[*Counter](w.ctx, w.svc, id, es.StreamQuery{})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.N).To(Equal(racers + 1))
			Expect(c.Version()).To(Equal(int64(racers + 1)))
		})

		It("without retries, each racer commits or gets ErrConcurrencyConflict, and versions stay gapless", func() {
			w := newWorld(nil)
			id := uuid.New()
			w.exec(Increment{ID: id, By: 1})
			committed := 1
			for _, err := range race(w, id) {
				if err == nil {
					committed++
					continue
				}
				Expect(err).To(MatchError(es.ErrConcurrencyConflict))
				Expect(err).To(MatchError(ContainSubstring("bank.Increment")))
			}
			envs, err := w.svc.History(w.ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(envs).To(HaveLen(committed))
			for i, e := range envs {
				Expect(e.Version).To(Equal(int64(i + 1)))
			}
			info, err := w.store.StreamInfo(w.ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(info).To(Equal(es.StreamInfo{Type: "bank.Counter", Version: int64(committed)}))
		})
	})

	Describe("concurrency in lockstep", func() {
		// Every racer loads the counter, then waits until all have loaded before it
		// records: all of them expect the same version, so conflicts are certain.
		const racers = 8
		lockstep := func(opts es.Options) (*world, uuid.UUID, []error) {
			var (
				mu      sync.Mutex
				arrived int
				all     = make(chan struct{})
			)
			w := newWorld(func(r *es.Registry) {
				RegisterBank(r)
				es.Handle(r, "spec.LockstepIncrement", func(ctx context.Context, u *es.UnitOfWork, cmd lockstepIncrement) error {
					c, err := es.Load[*Counter](ctx, u, cmd.ID)
					if err != nil {
						return err
					}
					mu.Lock()
					arrived++
					first := arrived <= racers
					if arrived == racers {
						close(all)
					}
					mu.Unlock()
					if first {
						<-all
					}
					return es.Record(c, Incremented{By: 1})
				})
			}, opts)
			id := uuid.New()
			w.exec(Increment{ID: id, By: 1})
			var wg sync.WaitGroup
			errs := make([]error, racers)
			for i := range racers {
				wg.Go(func() { _, errs[i] = w.svc.Execute(w.ctx, lockstepIncrement{ID: id}) })
			}
			wg.Wait()
			return w, id, errs
		}

		It("without retries, exactly one racer commits and the others get ErrConcurrencyConflict", func() {
			w, id, errs := lockstep(es.Options{})
			var ok, conflicts int
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, es.ErrConcurrencyConflict):
					conflicts++
				default:
					Fail(err.Error())
				}
			}
			Expect([]int{ok, conflicts}).To(Equal([]int{1, racers - 1}))
			Expect(w.store.StreamInfo(w.ctx, id)).To(Equal(es.StreamInfo{Type: "bank.Counter", Version: 2}))
		})

		It("with ConflictRetries, every racer commits once", func() {
			w, id, errs := lockstep(es.Options{ConflictRetries: racers})
			for _, err := range errs {
				Expect(err).NotTo(HaveOccurred())
			}
			c, err := es.LoadAt[*Counter](w.ctx, w.svc, id, es.StreamQuery{})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.N).To(Equal(racers + 1))
			Expect(w.events(id)).To(HaveLen(racers + 1))
		})
	})

	Describe("AfterCommit hooks", func() {
		It("see the events of every commit, in order, and nothing of a failed command", func() {
			var got [][]string
			w := newWorld(func(r *es.Registry) {
				RegisterBank(r)
				r.AfterCommit(func(_ context.Context, envs []es.Envelope) {
					var names []string
					for _, e := range envs {
						names = append(names, fmt.Sprintf("%s v%d", e.Type, e.Version))
					}
					got = append(got, names)
				})
			})
			id := w.open("Ann", "a@x")
			w.exec(Deposit{ID: id, Amount: 5})
			Expect(w.svc.Execute(w.ctx, Withdraw{ID: id, Amount: 50})).Error().To(HaveOccurred())
			Expect(got).To(Equal([][]string{{"bank.AccountOpened v1"}, {"bank.Deposited v2"}}))
		})
	})

	Describe("Append", func() {
		It("stores given history through the normal commit, claiming unique keys", func() {
			w := newWorld(nil)
			id := uuid.New()
			envs, err := w.svc.Append(w.ctx, id, AccountOpened{Owner: "Ann", Email: "ann@x"}, Deposited{Amount: 3})
			Expect(err).NotTo(HaveOccurred())
			Expect(envs).To(HaveLen(2))
			Expect(w.account(id).Balance).To(Equal(int64(3)))
			_, err = w.svc.Execute(w.ctx, OpenAccount{ID: uuid.New(), Owner: "Other", Email: "ANN@x"})
			var uk *es.UniqueKeyError
			Expect(errors.As(err, &uk)).To(BeTrue(), "got %v", err)
		})
	})
})

type strict struct{ Name string }

func (c strict) Validate() error {
	var v es.ValidationError
	v.Check(c.Name != "", "Name", "is required")
	return v.Err()
}

type halfDone struct{ ID uuid.UUID }

type lockstepIncrement struct{ ID uuid.UUID }

type racyTransfer struct {
	From, To uuid.UUID
	Amount   int64
}

// withRegistry returns a second service on w's store, clock and ids.
func (w *world) withRegistry(register func(*es.Registry), opts es.Options) *world {
	GinkgoHelper()
	r := es.NewRegistry()
	register(r)
	opts.Clock, opts.IDs = w.clock, w.ids
	svc, err := es.NewCommandService(w.ctx, r, w.store, opts)
	Expect(err).NotTo(HaveOccurred())
	w2 := *w
	w2.svc = svc
	return &w2
}
