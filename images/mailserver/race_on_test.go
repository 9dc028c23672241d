//go:build race

package mailserver

// raceDetector says the tests run with -race, which makes go-smtp's
// byte-wise DATA reader about twenty times slower: the fill tests send
// fewer messages then.
const raceDetector = true
