package inbox

import (
	"net/http"
	"time"
)

// The timeouts NewServer gives a receiver's http.Server. The handler
// itself bounds its processing (WithTimeout); these bound the connection
// around it, so that slow or idle clients cannot hold connections, and
// goroutines, forever.
const (
	// ServerReadHeaderTimeout bounds reading a request's headers: a client
	// that trickles them (slowloris) is cut off.
	ServerReadHeaderTimeout = 5 * time.Second
	// ServerReadTimeout bounds reading a whole request, body included: a
	// full batch (DefaultBatchBodyLimit) at 1 Mbit/s takes about a minute.
	ServerReadTimeout = time.Minute
	// ServerWriteTimeout bounds the time from the end of the request's
	// headers to the end of the answer: the body read, the processing
	// (DefaultTimeout) and the write.
	ServerWriteTimeout = ServerReadTimeout + DefaultTimeout + 10*time.Second
	// ServerIdleTimeout closes keep-alive connections idle this long.
	ServerIdleTimeout = 2 * time.Minute
	// ServerMaxHeaderBytes bounds a request's headers.
	ServerMaxHeaderBytes = 16 << 10
)

// NewServer returns an http.Server serving h at addr with the timeouts
// above; call its ListenAndServe (or ListenAndServeTLS) and Shutdown. A
// server built otherwise should set them too: http.Server's zero values
// mean no timeout at all.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ServerReadHeaderTimeout,
		ReadTimeout:       ServerReadTimeout,
		WriteTimeout:      ServerWriteTimeout,
		IdleTimeout:       ServerIdleTimeout,
		MaxHeaderBytes:    ServerMaxHeaderBytes,
	}
}
