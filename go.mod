module github.com/distkv-go/distkv

go 1.26
