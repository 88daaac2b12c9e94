package records_test

import (
	"fmt"

	"github.com/d1seal/d1seal/records"
)

func ExampleEventIDSource() {
	src := records.NewEventIDSource()
	a, b := src.Next(), src.Next()
	fmt.Println(len(a), a < b)
	// Output: 26 true
}
