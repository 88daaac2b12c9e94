//go:build race

package reliability_test

// raceBuild reports whether the tests were built with -race, so that the binaries they build
// use the same flags (and the same build cache).
const raceBuild = true
