package tid_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/d1seal/d1seal/syntax"
	"github.com/d1seal/d1seal/tid"
)

func ExampleParse() {
	t, err := tid.Parse("3jzfcijpj2z2a")
	if err != nil {
		panic(err)
	}
	fmt.Println(t.Time().Format(time.RFC3339Nano), t.ClockID())

	_, err = tid.Parse("3jzfcijpj2z21")
	fmt.Println(errors.Is(err, syntax.ErrSyntax))
	fmt.Println(err)
	// Output:
	// 2023-06-30T15:03:01.887007Z 6
	// true
	// syntax: parse TID "3jzfcijpj2z21": character '1' at offset 12 is not one of 234567abcdefghijklmnopqrstuvwxyz
}

func ExampleFromInteger() {
	t, err := tid.FromInteger(0x0102030405060708)
	if err != nil {
		panic(err)
	}
	fmt.Println(t, t.Integer() == 0x0102030405060708)
	// Output: 242k52k4kg3sc true
}

func ExampleNew() {
	t, err := tid.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), 42)
	if err != nil {
		panic(err)
	}
	fmt.Println(t, t.Time(), t.ClockID())
	// Output: 3lqk7lk5g223e 2025-06-01 12:00:00 +0000 UTC 42
}

// A Clock keeps issuing increasing TIDs when its time source stands still or steps back, and a
// Clock seeded with the last TID of a previous run continues after it.
func ExampleNewClockWith() {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	last, err := tid.New(now.Add(time.Second), 9) // issued by a run whose clock was ahead
	if err != nil {
		panic(err)
	}
	c, err := tid.NewClockWith(tid.ClockOptions{
		Last:    last,
		Now:     func() time.Time { return now }, // a stalled clock
		ClockID: 42,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(last)
	for range 3 {
		t := c.Next()
		fmt.Println(t, t.Time().Format(time.StampMicro))
	}
	// Output:
	// 3lqk7ll3wm22d
	// 3lqk7ll3wm33e Jun  1 12:00:01.000001
	// 3lqk7ll3wm43e Jun  1 12:00:01.000002
	// 3lqk7ll3wm53e Jun  1 12:00:01.000003
}
