//go:build !race

package cli

// raceEnabled is whether the tests run with the race detector; the inetkit
// binary they run is built the same way.
const raceEnabled = false
