package main_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/pgstore/pgtest"
)

// These specs run go in the projects consequent writes, offline (GOPROXY=off) and
// with go.mod as written (-mod=readonly, go's default): slow, so labelled.
var _ = Describe("a new project", Label("slow"), Ordered, func() {
	var project string
	BeforeAll(func() {
		project = newProject()
	})

	It("passes go vet", func() {
		expectOK(goCmd(project, "vet", "./..."))
	})

	It("passes its own specs on the in-memory store", func() {
		r := goCmd(project, "test", "./...", "-ginkgo.label-filter=!integration")
		expectOK(r)
		Expect(r.stdout).To(And(ContainSubstring("ok  \tdemo\t"), ContainSubstring("ok  \tdemo/todo\t")))
	})

	It("passes its own specs on PostgreSQL", Label(pgtest.Label), func(ctx SpecContext) {
		_, err := pgtest.Pool(ctx) // skips, or fails under make integration-test, without a server
		Expect(err).NotTo(HaveOccurred())
		db, err := pgtest.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
		dsn, drop, err := db.TempDatabase(ctx, false) // the project's specs make their own databases from it
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(drop)
		r := execIn(project, []string{"GOPROXY=off", "GOWORK=off", "CONSEQUENT_TEST_DATABASE_URL=" + dsn, "CONSEQUENT_REQUIRE_DATABASE=1"},
			"go", "test", "./...", "-ginkgo.label-filter=integration")
		expectOK(r)
	})

	It("has the go.mod that go mod tidy would write", func() {
		r := goCmd(project, "mod", "tidy", "-diff")
		Expect(r.stdout).NotTo(ContainSubstring("current/go.mod"), "go mod tidy changes go.mod:\n%s", r.stdout)
	})
})

var _ = Describe("the generators, in a new project", Label("slow"), Ordered, func() {
	var project string
	BeforeAll(func() {
		project = newProject()
	})

	for _, args := range [][]string{
		{"aggregate", "Project", "title:string", "count:int"},
		{"event", "ProjectStarted", "at:time"},
		{"command", "StartProject", "project_id:uuid"},
		{"projector", "Project", "title:string", "started_at:time"},
		{"workflow", "Kickoff"},
	} {
		It("generate "+args[0]+" leaves a project that builds", func() {
			expectOK(consequent(project, append([]string{"generate"}, args...)...))
			expectOK(goCmd(project, "build", "./..."))
		})
	}

	It("leaves specs that fail with what to write next", func() {
		r := goCmd(project, "test", "./todo", "-ginkgo.label-filter=!integration", "-ginkgo.no-color")
		Expect(r.code).To(Equal(1), r.stdout)
		for _, message := range []string{
			"Project has no spec yet: generate its first command and event (consequent generate command AddProject project_id:uuid; " +
				"consequent generate event ProjectAdded), then write here, in todo/project_test.go, what Project decides: Given/When/Then",
			"ProjectStarted has no spec yet: write one here, in todo/project_started_test.go: When(the command that records it), " +
				"Then(todo.ProjectStarted{…}); then record it with es.Record in a method of Project, and apply it in Project.On",
			"StartProject has no spec yet: write one here, in todo/start_project_test.go: Given(the events before), " +
				"When(todo.StartProject{…}), Then(the events it records); then make it pass in handleStartProject (todo/start_project.go)",
			"the Project projector has no spec yet: write one here, in todo/project_projector_test.go: Given(id, the events it handles), " +
				"ThenRecords(todo.ProjectRecords, todo.ProjectRecord{…}); then handle each event with es.Project in NewProjectProjector (todo/project_projector.go)",
			"the Kickoff workflow has no spec yet: write one here, in todo/kickoff_workflow_test.go: WhenEvent(id, the event it reacts to), " +
				"ThenCommands(the commands it issues); then react with es.React in NewKickoffWorkflow (todo/kickoff_workflow.go)",
		} {
			Expect(r.stdout).To(ContainSubstring("[FAILED] "+message+"\n"), "the output:\n%s", r.stdout)
		}
		Expect(r.stdout).To(ContainSubstring("| 5 Failed |"))
	})

	It("leaves a project that passes go vet", func() {
		expectOK(goCmd(project, "vet", "./..."))
	})
})
