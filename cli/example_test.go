package cli_test

import (
	"context"
	"fmt"
	"os"

	"github.com/consequent/consequent/cli"
	"github.com/consequent/consequent/examples/blog/blog"
)

// An application mounts the command line in its own binary, with its
// registration function; without a command it does what it did before.
func ExampleCommand() {
	serve := func(ctx context.Context, args []string) error {
		fmt.Println("serving with", args)
		return nil
	}
	root := cli.Command(blog.Register, cli.Name("blog"), cli.Default(serve))
	root.SetOut(os.Stdout)
	root.SetErr(os.Stdout)
	ctx := context.Background()

	fmt.Println("exit", cli.Execute(ctx, root, []string{"-addr", ":9000"}))
	fmt.Println("exit", cli.Execute(ctx, root, []string{"events", "show", "42"}))
	fmt.Println("exit", cli.Execute(ctx, root, []string{"projections", "rebuild"}))
	// Output:
	// serving with [-addr :9000]
	// exit 0
	// blog: malformed stream id "42": want a UUID such as 01a208f7-4c9c-7d3e-9a1b-2f5c6d7e8f90
	// exit 2
	// blog: usage: blog projections rebuild NAME|--all [flags] (a projector's name, or --all)
	// exit 2
}
