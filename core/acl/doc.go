// Package acl matches paths against ACL rules.
package acl
