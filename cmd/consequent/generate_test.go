package main_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("consequent generate", func() {
	var project string
	BeforeEach(func() {
		project = newProject()
	})

	DescribeTable("adds the type in a file of its own, its line in Register and a spec to write",
		func(args []string, base, registration, specCall string) {
			r := consequent(project, append([]string{"generate"}, args...)...)
			expectOK(r)
			Expect(r.stdout).To(Equal("created todo/" + base + ".go\n" +
				"created todo/" + base + "_test.go\n" +
				"changed todo/register.go\n" +
				"changed todo/todo_suite_test.go\n" +
				"next: go test ./todo says what to write in todo/" + base + "_test.go\n"))
			Expect(filepath.Join(project, "todo", base+".go")).To(BeARegularFile())
			Expect(readFile(project, "todo", base+"_test.go")).To(ContainSubstring("Fail("))
			Expect(readFile(project, "todo", "register.go")).To(ContainSubstring("\n\t" + registration + "\n"))
			Expect(readFile(project, "todo", "todo_suite_test.go")).To(ContainSubstring("\n\t" + specCall + "\n}"))
		},
		Entry("an aggregate", []string{"aggregate", "Project", "title:string"}, "project",
			`es.RegisterAggregate(reg, "todo.Project", func() *Project { return new(Project) })`, "projectSpecs(backend)"),
		Entry("a command", []string{"command", "ArchiveTask", "task_id:uuid"}, "archive_task",
			`es.Handle(reg, "todo.ArchiveTask", handleArchiveTask)`, "archiveTaskSpecs(backend)"),
		Entry("an event", []string{"event", "TaskArchived", "reason:string"}, "task_archived",
			`es.RegisterEvent[TaskArchived](task, "todo.TaskArchived")`, "taskArchivedSpecs(backend)"),
		Entry("a projector", []string{"projector", "Archive", "title:string"}, "archive_projector",
			`reg.AddProjector(NewArchiveProjector())`, "archiveProjectorSpecs(backend)"),
		Entry("a workflow", []string{"workflow", "Archiving"}, "archiving_workflow",
			`reg.AddWorkflow(NewArchivingWorkflow())`, "archivingWorkflowSpecs(backend)"),
	)

	It("turns fields into struct fields with json tags", func() {
		expectOK(consequent(project, "generate", "command", "ArchiveTask", "task_id:uuid", "reason", "due_at:time", "count:int", "urgent:bool"))
		Expect(readFile(project, "todo", "archive_task.go")).To(ContainSubstring(
			"type ArchiveTask struct {\n" +
				"\tTaskID uuid.UUID `json:\"task_id\"`\n" +
				"\tReason string    `json:\"reason\"`\n" +
				"\tDueAt  time.Time `json:\"due_at\"`\n" +
				"\tCount  int       `json:\"count\"`\n" +
				"\tUrgent bool      `json:\"urgent\"`\n" +
				"}\n"))
	})

	It("gives a projector's rows a column per field, besides aggregate_id", func() {
		expectOK(consequent(project, "generate", "projector", "Archive", "title:string"))
		Expect(readFile(project, "todo", "archive_projector.go")).To(And(
			ContainSubstring("\tAggregateID uuid.UUID `db:\"aggregate_id\" json:\"id\"`\n"+
				"\tTitle       string    `db:\"title\" json:\"title\"`\n"),
			ContainSubstring(`var ArchiveRecords = es.NewTable[ArchiveRecord]("archive_records", "aggregate_id")`),
		))
	})

	It("keeps an aggregate's registration in a variable once its first event comes", func() {
		expectOK(consequent(project, "generate", "aggregate", "Project"))
		expectOK(consequent(project, "generate", "event", "ProjectStarted"))
		Expect(readFile(project, "todo", "register.go")).To(ContainSubstring(
			"\n\tproject := es.RegisterAggregate(reg, \"todo.Project\", func() *Project { return new(Project) })\n" +
				"\tes.RegisterEvent[ProjectStarted](project, \"todo.ProjectStarted\")\n"))
		Expect(readFile(project, "todo", "project_started.go")).To(ContainSubstring("is an event of Project"))
	})

	It("takes an event's aggregate from --aggregate, or asks for it", func() {
		expectOK(consequent(project, "generate", "aggregate", "Project"))
		r := consequent(project, "generate", "event", "Renamed")
		Expect(r.code).To(Equal(2))
		Expect(r.stderr).To(Equal("consequent: which aggregate records Renamed? name it: --aggregate Task|Project\n"))
		expectOK(consequent(project, "generate", "event", "Renamed", "--aggregate", "Project"))
		Expect(readFile(project, "todo", "register.go")).To(ContainSubstring(`es.RegisterEvent[Renamed](project, "todo.Renamed")`))
	})

	It("says so when run twice, changing nothing", func() {
		expectOK(consequent(project, "generate", "command", "ArchiveTask", "task_id:uuid"))
		register := readFile(project, "todo", "register.go")
		r := consequent(project, "generate", "command", "ArchiveTask", "task_id:uuid")
		expectOK(r)
		Expect(r.stdout).To(Equal("todo.ArchiveTask exists, nothing changed\n"))
		Expect(readFile(project, "todo", "register.go")).To(Equal(register))
	})

	It("works in the domain package that holds the current directory, and asks for one when several could be meant", func() {
		billing := filepath.Join(project, "billing")
		Expect(os.Mkdir(billing, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(billing, "register.go"), []byte("package billing\n\n"+
			"import \"github.com/consequent/consequent/es\"\n\nfunc Register(r *es.Registry) {}\n"), 0o644)).To(Succeed())
		r := consequent(project, "generate", "workflow", "Archiving")
		Expect(r.code).To(Equal(2))
		Expect(r.stderr).To(Equal("consequent: 2 domain packages (billing, todo): run consequent generate inside the one to change\n"))
		expectOK(consequent(filepath.Join(project, "todo"), "generate", "workflow", "Archiving"))
	})

	It("prints paths relative to where it runs", func() {
		r := consequent(filepath.Join(project, "todo"), "generate", "workflow", "Archiving")
		expectOK(r)
		Expect(r.stdout).To(HavePrefix("created archiving_workflow.go\n"))
	})

	DescribeTable("refuses to overwrite, in one line, with exit code 1",
		func(stderr string, args ...string) {
			register := readFile(project, "todo", "register.go")
			r := consequent(project, append([]string{"generate"}, args...)...)
			Expect(r.code).To(Equal(1))
			Expect(r.stdout).To(BeEmpty())
			Expect(r.stderr).To(Equal(stderr + "\n"))
			Expect(readFile(project, "todo", "register.go")).To(Equal(register))
		},
		Entry("a type", "consequent: todo.AddTask exists already, in todo/add_task.go: refusing to overwrite; nothing changed",
			"command", "AddTask", "title"),
		Entry("an aggregate", "consequent: todo.Task exists already, in todo/task.go: refusing to overwrite; nothing changed",
			"aggregate", "Task"),
		Entry("a projector's table", "consequent: todo.TaskRecord exists already, in todo/task_projector.go: refusing to overwrite; nothing changed",
			"projector", "Task"),
		Entry("a spec", "consequent: repeatWorkflowSpecs exists already, in todo/repeat_workflow_test.go: refusing to overwrite; nothing changed",
			"event", "RepeatWorkflow"),
	)

	It("refuses a file of that name, with exit code 1", func() {
		Expect(os.WriteFile(filepath.Join(project, "todo", "archive_task.go"), []byte("package todo\n"), 0o644)).To(Succeed())
		r := consequent(project, "generate", "command", "ArchiveTask")
		Expect(r.code).To(Equal(1))
		Expect(r.stderr).To(Equal("consequent: todo/archive_task.go exists already: refusing to overwrite; nothing changed\n"))
	})

	It("refuses to run outside a project, with exit code 2", func() {
		dir := GinkgoT().TempDir()
		r := consequent(dir, "generate", "command", "ArchiveTask")
		Expect(r.code).To(Equal(2))
		Expect(r.stderr).To(Equal("consequent: not inside a Go project: no go.mod in " + dir + " or above (consequent new NAME writes one)\n"))
	})

	It("refuses a project without a domain package, with exit code 1", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n\ngo 1.26\n"), 0o644)).To(Succeed())
		r := consequent(dir, "generate", "command", "ArchiveTask")
		Expect(r.code).To(Equal(1))
		Expect(r.stderr).To(Equal("consequent: no domain package in " + dir +
			": no package has func Register(reg *es.Registry) (consequent new NAME writes one)\n"))
	})

	DescribeTable("refuses misuse in one line, with exit code 2",
		func(stderr string, args ...string) {
			r := consequent(project, append([]string{"generate"}, args...)...)
			Expect(r.code).To(Equal(2))
			Expect(r.stderr).To(Equal(stderr + "\n"))
		},
		Entry("no kind", "consequent: generate what? consequent generate aggregate|command|event|projector|workflow NAME [field:type…]"),
		Entry("an unknown kind", `consequent: cannot generate "view": consequent generate aggregate|command|event|projector|workflow NAME [field:type…]`,
			"view", "Tasks"),
		Entry("no name", "consequent: usage: consequent generate command NAME [field:type…]", "command"),
		Entry("a name that is no Go name", `consequent: command name "1st" is not a Go name: use letters and digits, such as ArchiveTask`,
			"command", "1st"),
		Entry("an unknown field type", `consequent: field due:date: unknown type "date": use string, bool, int, int64, float64, time or uuid`,
			"command", "ArchiveTask", "due:date"),
		Entry("a field twice", "consequent: field title:string: title is given twice", "command", "ArchiveTask", "title", "title:string"),
		Entry("fields for a workflow", "consequent: usage: consequent generate workflow NAME", "workflow", "Archiving", "x:int"),
		Entry("an unknown flag", "consequent: unknown flag: --aggregate (see consequent generate command --help)",
			"command", "ArchiveTask", "--aggregate", "Task"),
	)
})
