// Package pngshrink makes screenshots small enough to commit: it
// re-encodes a PNG with a palette of at most 256 colours chosen for the
// picture. The tests that write the README's screenshots (the scoreboard's
// UI, the targets' sites) use it.
//
// It imports only the standard library.
package pngshrink

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"sort"
)

// Shrink re-encodes a PNG screenshot with at most 256 colours picked for it
// by median cut. A dark UI has few colours besides the edges of its text,
// so the paletted PNG looks the same and weighs a third.
func Shrink(b []byte) ([]byte, error) {
	src, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("pngshrink: %w", err)
	}
	bounds := src.Bounds()
	// Colours are bucketed at 5 bits a channel: 32768 buckets at most.
	type bucket struct {
		key        uint16
		n          int
		r, g, b    int // sums of the 8-bit values
		cr, cg, cb uint8
	}
	buckets := map[uint16]*bucket{}
	keyOf := func(r, g, b uint32) uint16 { return uint16(r>>11)<<10 | uint16(g>>11)<<5 | uint16(b>>11) }
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, bl, _ := src.At(x, y).RGBA()
			k := keyOf(r, g, bl)
			bk := buckets[k]
			if bk == nil {
				bk = &bucket{key: k, cr: uint8(k >> 10 & 31), cg: uint8(k >> 5 & 31), cb: uint8(k & 31)}
				buckets[k] = bk
			}
			bk.n++
			bk.r += int(r >> 8)
			bk.g += int(g >> 8)
			bk.b += int(bl >> 8)
		}
	}
	all := make([]*bucket, 0, len(buckets))
	for _, bk := range buckets {
		all = append(all, bk)
	}
	// In the order of their colours, not the map's: the same picture
	// gives the same file, and -update-docs rewrites no screenshot that
	// did not change.
	sort.Slice(all, func(i, j int) bool { return all[i].key < all[j].key })
	channel := func(bk *bucket, c int) uint8 { return [3]uint8{bk.cr, bk.cg, bk.cb}[c] }
	// span returns a box's widest channel and its width.
	span := func(box []*bucket) (int, int) {
		best, width := 0, -1
		for c := range 3 {
			lo, hi := uint8(31), uint8(0)
			for _, bk := range box {
				v := channel(bk, c)
				lo, hi = min(lo, v), max(hi, v)
			}
			if int(hi)-int(lo) > width {
				best, width = c, int(hi)-int(lo)
			}
		}
		return best, width
	}
	boxes := [][]*bucket{all}
	for len(boxes) < 256 {
		// Split the box that covers the most pixels over a range of colours.
		pick, score := -1, 0
		for i, box := range boxes {
			if len(box) < 2 {
				continue
			}
			_, w := span(box)
			n := 0
			for _, bk := range box {
				n += bk.n
			}
			if s := n * (w + 1); s > score {
				pick, score = i, s
			}
		}
		if pick < 0 {
			break
		}
		box := boxes[pick]
		c, _ := span(box)
		sort.SliceStable(box, func(i, j int) bool { return channel(box[i], c) < channel(box[j], c) })
		total := 0
		for _, bk := range box {
			total += bk.n
		}
		cut, acc := 1, 0
		for i, bk := range box[:len(box)-1] {
			acc += bk.n
			cut = i + 1
			if acc*2 >= total {
				break
			}
		}
		boxes[pick] = box[:cut]
		boxes = append(boxes, box[cut:])
	}
	pal := make(color.Palette, len(boxes))
	index := map[uint16]uint8{}
	for i, box := range boxes {
		var n, r, g, bl int
		for _, bk := range box {
			n += bk.n
			r += bk.r
			g += bk.g
			bl += bk.b
			index[bk.key] = uint8(i)
		}
		pal[i] = color.RGBA{uint8(r / n), uint8(g / n), uint8(bl / n), 255}
	}
	dst := image.NewPaletted(bounds, pal)
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, bl, _ := src.At(x, y).RGBA()
			dst.SetColorIndex(x, y, index[keyOf(r, g, bl)])
		}
	}
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, dst); err != nil {
		return nil, fmt.Errorf("pngshrink: %w", err)
	}
	return out.Bytes(), nil
}
