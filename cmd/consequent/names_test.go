package main

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = DescribeTable("names, from what a user types to Go",
	func(in, exp, unexp, snk string) {
		Expect(exported(in)).To(Equal(exp))
		Expect(unexported(in)).To(Equal(unexp))
		Expect(snake(in)).To(Equal(snk))
	},
	Entry(nil, "title", "Title", "title", "title"),
	Entry(nil, "task_id", "TaskID", "taskID", "task_id"),
	Entry(nil, "taskID", "TaskID", "taskID", "task_id"),
	Entry(nil, "TaskID", "TaskID", "taskID", "task_id"),
	Entry(nil, "due-at", "DueAt", "dueAt", "due_at"),
	Entry(nil, "ArchiveTask", "ArchiveTask", "archiveTask", "archive_task"),
	Entry(nil, "HTTPCheck", "HTTPCheck", "httpCheck", "http_check"),
	Entry(nil, "url", "URL", "url", "url"),
	Entry(nil, "step2", "Step2", "step2", "step2"),
)
