package wire

// The protocol's actions: the one list of their names. Servers answer
// each of them; clients and tools name them by these constants.
const (
	GetValue        = "get_value"
	SetValue        = "set_value"
	DeleteValue     = "delete_value"
	GetTree         = "get_tree"
	DeleteTree      = "delete_tree"
	Watch           = "watch"
	Root            = "root"
	Stop            = "stop"
	GetState        = "get_state"
	GetTock         = "get_tock"
	Save            = "save"
	Log             = "log"
	Enum            = "enum"
	TestACL         = "test_acl"
	MsgSend         = "msg_send"
	MsgMonitor      = "msg_monitor"
	GetInternal     = "get_internal"
	SetInternal     = "set_internal"
	DeleteInternal  = "delete_internal"
	EnumInternal    = "enum_internal"
	GetTreeInternal = "get_tree_internal"

	// Logins and users (see core/auth).
	DiffieHellman = "diffie_hellman" // agree on a key for the password
	Auth          = "auth"           // log in
	AuthInfo      = "auth_info"      // the value of None auth: the current method
	AuthList      = "auth_list"      // the users of a method
	AuthGet       = "auth_get"       // one user, without secrets
	AuthSet       = "auth_set"       // add or change a user
	SetAuthTyp    = "set_auth_typ"   // switch the current method
)

// Actions lists every action of the protocol.
var Actions = []string{
	GetValue, SetValue, DeleteValue, GetTree, DeleteTree, Watch, Root,
	Stop, GetState, GetTock, Save, Log, Enum, TestACL, MsgSend, MsgMonitor,
	GetInternal, SetInternal, DeleteInternal, EnumInternal, GetTreeInternal,
	DiffieHellman, Auth, AuthInfo, AuthList, AuthGet, AuthSet, SetAuthTyp,
}
