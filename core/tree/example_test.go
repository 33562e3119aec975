package tree_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/tree"
)

// cache holds the values below a prefix, as a cache of types or ACLs
// does: it follows the tree through a subscription, without the tree's
// lock, and loads it all again when it has missed changes.
type cache struct {
	tr     *tree.Tree
	prefix path.Path
	sub    *tree.Subscription
	values map[string]string
}

// load subscribes, then walks up to the subscription's Before: the
// changes the subscription delivers follow that state.
func (c *cache) load() {
	if c.sub != nil {
		c.sub.Close()
	}
	c.sub = c.tr.Subscribe(c.prefix, 4)
	c.values = map[string]string{}
	c.tr.Walk(c.prefix, tree.WalkOptions{MaxDepth: -1, Before: c.sub.Before()}, func(items []tree.Item) bool {
		for _, it := range items {
			c.values[it.Path.String()] = it.Value
		}
		return true
	})
}

// catchUp applies the changes waiting. A cache with a goroutine of its
// own calls Next(ctx) in a loop instead.
func (c *cache) catchUp() {
	for {
		it, ok, err := c.sub.TryNext()
		if errors.Is(err, tree.ErrOverflow) {
			fmt.Println("missed changes: loading again")
			c.load()
			continue
		}
		if err != nil || !ok {
			return
		}
		if it.HasValue {
			c.values[it.Path.String()] = it.Value
		} else {
			delete(c.values, it.Path.String())
		}
	}
}

func (c *cache) print() {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(c.values)) {
		kv = append(kv, fmt.Sprintf("%s=%q", k, c.values[k]))
	}
	fmt.Println(strings.Join(kv, " "))
}

func ExampleTree_Subscribe() {
	tr := tree.New(tree.Config{Node: "a"})
	set := func(p, v string) { tr.Set(path.P(p), v, tree.Cond{}) }
	set("conf.a", "1")
	c := &cache{tr: tr, prefix: path.P("conf")}
	c.load()
	set("conf.b", "2")
	tr.Delete(path.P("conf.a"), tree.Cond{})
	c.catchUp()
	c.print()
	for i := range 10 { // more than the 4 the cache's queue holds
		set(fmt.Sprintf("conf.n%d", i), "3")
	}
	c.catchUp()
	c.print()
	c.sub.Close()
	// Output:
	// conf.b="2"
	// missed changes: loading again
	// conf.b="2" conf.n0="3" conf.n1="3" conf.n2="3" conf.n3="3" conf.n4="3" conf.n5="3" conf.n6="3" conf.n7="3" conf.n8="3" conf.n9="3"
}
