package gossip

import (
	"bytes"
	"fmt"
	"maps"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
)

// checkTags refuses tags that use RootTag or that Serf cannot gossip once
// the root tag is added.
func checkTags(tags map[string]string, root string) error {
	if _, ok := tags[RootTag]; ok {
		return fmt.Errorf("%w: the tag %q is reserved", ErrTags, RootTag)
	}
	if n := encodedTagsSize(withRoot(tags, root)); n > memberlist.MetaMaxSize {
		return fmt.Errorf("%w: %d bytes encoded with the root tag, at most %d", ErrTags, n, memberlist.MetaMaxSize)
	}
	return nil
}

// encodedTagsSize is the size of the tags as Serf encodes them into
// memberlist's node meta data: a magic byte, then msgpack.
func encodedTagsSize(tags map[string]string) int {
	var buf bytes.Buffer
	buf.WriteByte(0xff)
	if err := codec.NewEncoder(&buf, &codec.MsgpackHandle{}).Encode(tags); err != nil {
		return memberlist.MetaMaxSize + 1
	}
	return buf.Len()
}

// withRoot returns a copy of tags with RootTag set.
func withRoot(tags map[string]string, root string) map[string]string {
	out := make(map[string]string, len(tags)+1)
	maps.Copy(out, tags)
	out[RootTag] = root
	return out
}

// withoutRoot returns a copy of tags without RootTag; never nil.
func withoutRoot(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		if k != RootTag {
			out[k] = v
		}
	}
	return out
}
