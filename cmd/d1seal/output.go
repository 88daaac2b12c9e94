package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"
)

// print writes v as indented JSON with -json, or else what text writes.
func (e *env) print(v any, text func(w io.Writer)) error {
	if e.asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(e.stdout)
	return nil
}

// confirm asks before a destructive action: yes (-y) goes ahead; on a terminal the operator
// must type "yes"; anywhere else it is refused, as wrangler does.
func (e *env) confirm(what string, yes bool) error {
	if yes {
		return nil
	}
	if e.stdin == nil || !term.IsTerminal(int(e.stdin.Fd())) {
		return usageError{what + ": not a terminal to confirm on; give -y to go ahead"}
	}
	fmt.Fprintf(e.stderr, "%s. Type yes to go ahead: ", what)
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return fmt.Errorf("%s: not confirmed; nothing was changed", what)
	}
	return nil
}
