package syntax_test

import (
	"errors"
	"fmt"

	"github.com/d1seal/d1seal/syntax"
)

func ExampleParseID() {
	r, err := syntax.ParseID("did:plc:7iza6de2dwap2sbkpav7c6c6/com.example.note/3jzfcijpj2z2a")
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
		_, refErr := syntax.ParseURI(s)
		_, uriErr := syntax.ParseATURI(s)
		fmt.Printf("record: %-5t AT-URI: %t\n", refErr == nil, uriErr == nil)
	}
	// Output:
	// record: true  AT-URI: true
	// record: false AT-URI: true
	// record: false AT-URI: true
}

func ExampleNSID_Canonical() {
	n, err := syntax.ParseNSID("Com.Example.fooBar")
	if err != nil {
		panic(err)
	}
	fmt.Println(n, n.Canonical())
	// Output: Com.Example.fooBar com.example.fooBar
}

func ExampleSyntaxError() {
	_, err := syntax.ParseNSID("com.example")
	fmt.Println(errors.Is(err, syntax.ErrSyntax))
	var se *syntax.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.Kind, "|", se.Reason)
	}
	fmt.Println(err)
	// Output:
	// true
	// NSID | has 2 segments, want at least 3 separated by '.', like com.example.record
	// syntax: parse NSID "com.example": has 2 segments, want at least 3 separated by '.', like com.example.record
}
