module github.com/distkv-go/distkv

go 1.26

require (
	github.com/alecthomas/kong v1.17.0
	github.com/vmihailenco/msgpack/v5 v5.4.1
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
