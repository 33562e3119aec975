package pack

// ReadMap consumes a map whose keys are strings and calls each with every
// key in turn (shared with the input); each must consume the key's value.
// It is the one loop that message decoders need, so that they only say
// what each key means. A key that is not a string is an error.
func (r *Reader) ReadMap(each func(key []byte) error) error {
	n, err := r.ReadMapHeader()
	if err != nil {
		return err
	}
	for range n {
		k, err := r.ReadStrBytes()
		if err != nil {
			return err
		}
		if err := each(k); err != nil {
			return err
		}
	}
	return nil
}
