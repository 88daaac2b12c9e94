package records_test

import (
	"errors"
	"fmt"

	"github.com/d1seal/d1seal/records"
)

func ExampleParseID() {
	r, err := records.ParseID("did:plc:7iza6de2dwap2sbkpav7c6c6/com.example.note/3jzfcijpj2z2a")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.DID)
	fmt.Println(r.Collection)
	fmt.Println(r.RKey)
	fmt.Println(r.URI())
	// Output:
	// did:plc:7iza6de2dwap2sbkpav7c6c6
	// com.example.note
	// 3jzfcijpj2z2a
	// at://did:plc:7iza6de2dwap2sbkpav7c6c6/com.example.note/3jzfcijpj2z2a
}

// ParseURI accepts only AT-URIs that name one record by DID; ParseATURI accepts every AT-URI.
func ExampleParseURI() {
	for _, s := range []string{
		"at://did:plc:7iza6de2dwap2sbkpav7c6c6/com.example.note/self",
		"at://alice.example.com/com.example.note/self",
		"at://did:plc:7iza6de2dwap2sbkpav7c6c6/com.example.note",
	} {
		_, refErr := records.ParseURI(s)
		_, uriErr := records.ParseATURI(s)
		fmt.Printf("record: %-5t AT-URI: %t\n", refErr == nil, uriErr == nil)
	}
	// Output:
	// record: true  AT-URI: true
	// record: false AT-URI: true
	// record: false AT-URI: true
}

func ExampleNSID_Canonical() {
	n, err := records.ParseNSID("Com.Example.fooBar")
	if err != nil {
		panic(err)
	}
	fmt.Println(n, n.Canonical())
	// Output: Com.Example.fooBar com.example.fooBar
}

func ExampleSyntaxError() {
	_, err := records.ParseNSID("com.example")
	fmt.Println(errors.Is(err, records.ErrSyntax))
	var se *records.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.Kind, "|", se.Reason)
	}
	fmt.Println(err)
	// Output:
	// true
	// NSID | has 2 segments, want at least 3 separated by '.', like com.example.record
	// records: parse NSID "com.example": has 2 segments, want at least 3 separated by '.', like com.example.record
}

func ExampleEventIDSource() {
	src := records.NewEventIDSource()
	a, b := src.Next(), src.Next()
	fmt.Println(len(a), a < b)
	// Output: 26 true
}
