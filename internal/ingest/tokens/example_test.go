package tokens_test

import (
	"fmt"

	"github.com/quantumflow/quantumflow/internal/ingest/tokens"
)

func ExampleSplit() {
	fmt.Println(tokens.Split("parseHTTPRequest"))
	fmt.Println(tokens.Split("foo_bar.BazQux"))
	fmt.Println(tokens.Split("getIDs utf8 HTTP2Server"))
	// Output:
	// [parse http request]
	// [foo bar baz qux]
	// [get ids utf8 http2 server]
}

func ExampleForIndex() {
	fmt.Println(tokens.ForIndex("x := parseHTTPRequest(r)"))
	// Output: x parsehttprequest parse http request r
}

func ExampleForQuery() {
	fmt.Printf("%q\n", tokens.ForQuery("parseHTTP request"))
	fmt.Printf("%q\n", tokens.ForQuery(`'); DROP TABLE x; --`))
	fmt.Printf("%q\n", tokens.ForQuery("&|!():*"))
	// Output:
	// "parse & http & request"
	// "drop & table & x"
	// ""
}
