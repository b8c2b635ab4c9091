// The reference server of the push fan-out benchmark (bench/fanout.ts): go-control-plane's snapshot
// cache and ADS server (state of the world and delta), handed each snapshot over HTTP. PUT /snapshot/K
// uploads snapshot K before the run: every resource as proto3 JSON, as shadowplane's own translation
// writes them (so both servers serve the same resources to the same clients), decoded and versioned
// there, outside the timed part; POST /apply/K, the timed edit, only calls SetSnapshot with it. Each
// type is versioned by a hash of its resources (an unchanged type is not sent again), and every node
// shares one snapshot, as shadowplane's node groups do. It prints {"xds":PORT,"http":PORT} once it
// serves, and runs until killed.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	// The messages the resources hold, registered for protojson.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/service/runtime/v3"
)

// oneGroup serves every node the same snapshot.
type oneGroup struct{}

func (oneGroup) ID(*core.Node) string { return "all" }

var typeOf = map[string]resource.Type{
	"listeners": resource.ListenerType,
	"routes":    resource.RouteType,
	"clusters":  resource.ClusterType,
	"endpoints": resource.EndpointType,
	"runtime":   resource.RuntimeType,
}

// decoded holds every resource decoded so far by its JSON: snapshots share what did not change.
var decoded = map[string]types.Resource{}

// snapshotOf reads {listeners, routes, clusters, endpoints, runtime}, each a list of resources with @type.
func snapshotOf(body []byte) (*cache.Snapshot, error) {
	var lists map[string][]json.RawMessage
	if err := json.Unmarshal(body, &lists); err != nil {
		return nil, err
	}
	snap := &cache.Snapshot{}
	for key, list := range lists {
		typ, ok := typeOf[key]
		if !ok {
			return nil, fmt.Errorf("unknown list %q", key)
		}
		items := make([]types.Resource, 0, len(list))
		for _, raw := range list {
			if m, ok := decoded[string(raw)]; ok {
				items = append(items, m)
				continue
			}
			var any anypb.Any
			if err := protojson.Unmarshal(raw, &any); err != nil {
				return nil, err
			}
			m, err := any.UnmarshalNew()
			if err != nil {
				return nil, err
			}
			decoded[string(raw)] = m
			items = append(items, m)
		}
		snap.Resources[cache.GetResponseType(typ)] = cache.NewResources(versionOf(items), items)
	}
	return snap, snap.Consistent()
}

// versionOf hashes a type's resources: the same resources, the same version.
func versionOf(items []types.Resource) string {
	sort.Slice(items, func(i, j int) bool { return cache.GetResourceName(items[i]) < cache.GetResourceName(items[j]) })
	h := sha256.New()
	for _, item := range items {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(item)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func main() {
	xdsAddr := flag.String("xds", "127.0.0.1:0", "ADS address")
	httpAddr := flag.String("http", "127.0.0.1:0", "address of PUT /snapshot/K and POST /apply/K")
	flag.Parse()
	ctx := context.Background()
	snapshots := cache.NewSnapshotCache(true, oneGroup{}, nil)
	srv := server.NewServer(ctx, snapshots, nil)
	g := grpc.NewServer(
		grpc.MaxConcurrentStreams(1<<20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	discovery.RegisterAggregatedDiscoveryServiceServer(g, srv)
	xdsListener, err := net.Listen("tcp", *xdsAddr)
	if err != nil {
		panic(err)
	}
	go func() { _ = g.Serve(xdsListener) }()
	var mu sync.Mutex
	loaded := map[string]*cache.Snapshot{}
	http.HandleFunc("PUT /snapshot/{k}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		snap, err := snapshotOf(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		loaded[r.PathValue("k")] = snap
		// The upload's garbage is the bench's preparation, not the server's: give it back before idle RSS is read.
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusOK)
	})
	http.HandleFunc("POST /apply/{k}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		snap, ok := loaded[r.PathValue("k")]
		mu.Unlock()
		if !ok {
			http.Error(w, "no snapshot "+r.PathValue("k"), http.StatusNotFound)
			return
		}
		if err := snapshots.SetSnapshot(ctx, "all", snap); err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	httpListener, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		panic(err)
	}
	fmt.Printf("{\"xds\":%s,\"http\":%s}\n", strconv.Itoa(xdsListener.Addr().(*net.TCPAddr).Port), strconv.Itoa(httpListener.Addr().(*net.TCPAddr).Port))
	_ = http.Serve(httpListener, nil)
}
