//go:build !race

package mailserver

const raceDetector = false
