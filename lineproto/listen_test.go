package lineproto_test

import (
	"errors"
	"net"
	"testing"

	"github.com/inetkit/inetkit/lineproto"
)

func TestListenAndServe(t *testing.T) {
	var got net.Listener
	err := lineproto.ListenAndServe("127.0.0.1:0", ":1", func(l net.Listener) error {
		got = l
		return l.Close()
	})
	if err != nil || got == nil {
		t.Fatalf("ListenAndServe = %v, listener %v", err, got)
	}
	if err := lineproto.ListenAndServe("256.0.0.1:1", "", nil); err == nil {
		t.Error("ListenAndServe on an invalid address: no error")
	}
}

func TestServeTLS_noConfig(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = lineproto.ServeTLS(l, nil, func(net.Listener) error { t.Error("served without a TLS config"); return nil })
	if !errors.Is(err, lineproto.ErrNoTLSConfig) {
		t.Errorf("ServeTLS(nil config) = %v; want ErrNoTLSConfig", err)
	}
	if _, err := l.Accept(); err == nil {
		t.Error("the listener is still open")
	}
}
