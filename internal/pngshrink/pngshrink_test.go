package pngshrink

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

func TestShrink(t *testing.T) {
	// A gradient of many colours next to a few flat ones.
	img := image.NewRGBA(image.Rect(0, 0, 300, 60))
	for y := range 60 {
		for x := range 300 {
			c := color.RGBA{uint8(x * 255 / 299), uint8(y * 4), 40, 255}
			if y >= 30 {
				c = [...]color.RGBA{{10, 17, 30, 255}, {232, 238, 247, 255}, {76, 194, 255, 255}}[x%3]
			}
			img.Set(x, y, c)
		}
	}
	var in bytes.Buffer
	if err := png.Encode(&in, img); err != nil {
		t.Fatal(err)
	}
	out, err := Shrink(in.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if again, err := Shrink(in.Bytes()); err != nil || !bytes.Equal(again, out) {
		t.Fatalf("a second shrink of the same picture gives another file (%v)", err)
	}
	got, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := got.(*image.Paletted)
	if !ok || len(p.Palette) > 256 || got.Bounds() != img.Bounds() {
		t.Fatalf("got %T with bounds %v", got, got.Bounds())
	}
	for y := range 60 {
		for x := range 300 {
			r1, g1, b1, _ := img.At(x, y).RGBA()
			r2, g2, b2, _ := got.At(x, y).RGBA()
			d := max(absDiff(r1, r2), absDiff(g1, g2), absDiff(b1, b2)) >> 8
			// The flat colours survive exactly; the gradient within a
			// bucket's width or two.
			if (y >= 30 && d > 4) || d > 24 {
				t.Fatalf("pixel %d,%d off by %d", x, y, d)
			}
		}
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}
