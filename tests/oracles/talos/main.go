// talos-oracle: Talos's own machinery (github.com/siderolabs/talos/pkg/machinery) as a judge of
// what kubectl zt writes. One program for every Talos line: each line pins its machinery version
// in lines/<line>.mod and is built with `go build -modfile=lines/<line>.mod` (see
// tests/oracles/build.sh), so the same checks run against each line's own code.
//
// Subcommands (all output JSON on stdout; exit 1 when the input is refused, 2 on usage errors):
//
//	validate FILE                 load a machine config and validate it the way
//	                              `talosctl validate --mode metal --strict` does
//	gen --secrets F --out DIR ... what `talosctl gen config --with-secrets F` writes for the node
//	                              configs (controlplane.yaml, worker.yaml), comments left out
//	bundle-check FILE             load a secrets bundle and check it as talosctl does before use,
//	                              plus: every CA key belongs to its certificate
//	bundle-gen OUT                a fresh bundle from machinery, written as `talosctl gen secrets`
//	descriptors SERVICE METHOD... the protobuf descriptors of the named RPCs and every message
//	                              and enum they reach, from machinery's generated Go code
//	patch CONFIG [PATCH...]       CONFIG with each PATCH file applied in order, as
//	                              `talosctl --config-patch @PATCH` applies them, printed in
//	                              machinery's own encoding (no comments); with no PATCH, CONFIG
//	                              read and encoded again (YAML on stdout, not JSON)
package main

import (
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"gopkg.in/yaml.v3"

	talosx509 "github.com/siderolabs/crypto/x509"

	// Registers machine.MachineService and its messages (and common.*) in the global registry.
	_ "github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/configpatcher"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/siderolabs/talos/pkg/machinery/config/generate"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/config/validation"
	"github.com/siderolabs/talos/pkg/machinery/role"
)

// metalMode is the runtime mode `talosctl validate --mode metal` resolves to: bare metal
// installs to disk and does not run in a container.
type metalMode struct{}

func (metalMode) String() string        { return "metal" }
func (metalMode) RequiresInstall() bool { return true }
func (metalMode) InContainer() bool     { return false }

func main() {
	if len(os.Args) < 2 {
		usage()
	}

	var err error

	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "validate":
		err = validateCmd(args)
	case "gen":
		err = genCmd(args)
	case "bundle-check":
		err = bundleCheckCmd(args)
	case "bundle-gen":
		err = bundleGenCmd(args)
	case "descriptors":
		err = descriptorsCmd(args)
	case "patch":
		err = patchCmd(args)
	default:
		usage()
	}

	if err != nil {
		var refused refusedError
		if errors.As(err, &refused) {
			os.Exit(1)
		}

		fmt.Fprintf(os.Stderr, "talos-oracle: %v\n", err)
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: talos-oracle validate FILE | gen --secrets F --out DIR --cluster-name N --endpoint URL "+
		"--kubernetes-version V --install-image I [--install-disk D] [--dns-domain D] [--talos-version V] | bundle-check FILE | "+
		"bundle-gen OUT [--talos-version V] | descriptors SERVICE METHOD... | patch CONFIG [PATCH...]")
	os.Exit(2)
}

// refusedError means the verdict (already printed as JSON) is "no": exit 1, not a usage error.
type refusedError struct{}

func (refusedError) Error() string { return "refused" }

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")

	return enc.Encode(v)
}

// flatten turns a (possibly nested) multierror into one message per problem, so the tests can
// name each error instead of matching one long string.
func flatten(err error) []string {
	if err == nil {
		return []string{}
	}

	type wrapped interface{ WrappedErrors() []error }

	if w, ok := err.(wrapped); ok { //nolint:errorlint // multierror's own list, not a chain
		out := []string{}
		for _, e := range w.WrappedErrors() {
			out = append(out, flatten(e)...)
		}

		return out
	}

	return []string{err.Error()}
}

type verdict struct {
	Errors   []string `json:"errors"`
	Warnings []string `json:"warnings"`
}

func validateCmd(args []string) error {
	if len(args) != 1 {
		return errors.New("validate takes one FILE")
	}

	v := verdict{Errors: []string{}, Warnings: []string{}}

	cfg, err := configloader.NewFromFile(args[0])
	if err != nil {
		// A config the loader refuses (unknown field, wrong type, bad document) is an error
		// verdict, the same way talosctl validate fails on it.
		v.Errors = append(v.Errors, "load: "+err.Error())
	} else {
		warnings, verr := cfg.Validate(metalMode{}, validation.WithLocal(), validation.WithStrict())
		v.Warnings = append(v.Warnings, warnings...)
		v.Errors = append(v.Errors, flatten(verr)...)
	}

	if err := printJSON(v); err != nil {
		return err
	}

	if len(v.Errors) > 0 {
		return refusedError{}
	}

	return nil
}

func genCmd(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	secretsPath := fs.String("secrets", "", "secrets bundle (as for talosctl gen config --with-secrets)")
	out := fs.String("out", "", "directory for controlplane.yaml and worker.yaml")
	clusterName := fs.String("cluster-name", "", "cluster name")
	endpoint := fs.String("endpoint", "", "control plane endpoint URL")
	kubeVersion := fs.String("kubernetes-version", "", "Kubernetes version")
	installDisk := fs.String("install-disk", "/dev/sda", "install disk (talosctl's default)")
	installImage := fs.String("install-image", "", "installer image")
	talosVersion := fs.String("talos-version", "", "version contract (talosctl gen config --talos-version)")
	dnsDomain := fs.String("dns-domain", "cluster.local", "cluster DNS domain (talosctl's default)")

	if err := fs.Parse(args); err != nil {
		return err
	}

	if *secretsPath == "" || *out == "" || *clusterName == "" || *endpoint == "" || *kubeVersion == "" || *installImage == "" {
		return errors.New("gen needs --secrets, --out, --cluster-name, --endpoint, --kubernetes-version and --install-image")
	}

	bundle, err := secrets.LoadBundle(*secretsPath)
	if err != nil {
		return fmt.Errorf("load secrets bundle: %w", err)
	}

	if err = bundle.Validate(); err != nil {
		return fmt.Errorf("validate secrets bundle: %w", err)
	}

	// The options talosctl gen config passes with its default flags (docs, examples and
	// KubeSpan aside), in the same order. Its `--persist` (default true) is left out: true is
	// also machinery's default on every line, and v1.13 dropped the option (persist is always on).
	opts := []generate.Option{}

	if *talosVersion != "" {
		contract, cerr := config.ParseContractFromVersion(*talosVersion)
		if cerr != nil {
			return cerr
		}

		opts = append(opts, generate.WithVersionContract(contract))
	}

	opts = append(opts,
		generate.WithSecretsBundle(bundle),
		generate.WithInstallDisk(*installDisk),
		generate.WithInstallImage(*installImage),
		generate.WithAdditionalSubjectAltNames([]string{}),
		generate.WithDNSDomain(*dnsDomain),
		generate.WithClusterDiscovery(true),
	)

	input, err := generate.NewInput(*clusterName, *endpoint, strings.TrimPrefix(*kubeVersion, "v"), opts...)
	if err != nil {
		return err
	}

	if err = os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	for name, typ := range map[string]machine.Type{"controlplane.yaml": machine.TypeControlPlane, "worker.yaml": machine.TypeWorker} {
		provider, gerr := input.Config(typ)
		if gerr != nil {
			return gerr
		}

		data, eerr := provider.EncodeBytes(encoder.WithComments(encoder.CommentsDisabled))
		if eerr != nil {
			return eerr
		}

		if err = os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			return err
		}
	}

	return printJSON(map[string]string{"controlplane": filepath.Join(*out, "controlplane.yaml"), "worker": filepath.Join(*out, "worker.yaml")})
}

func bundleCheckCmd(args []string) error {
	if len(args) != 1 {
		return errors.New("bundle-check takes one FILE")
	}

	v := verdict{Errors: []string{}, Warnings: []string{}}

	bundle, err := secrets.LoadBundle(args[0])
	if err != nil {
		v.Errors = append(v.Errors, "load: "+err.Error())
	} else {
		v.Errors = append(v.Errors, flatten(bundle.Validate())...)
		if len(v.Errors) == 0 {
			v.Errors = append(v.Errors, keysMatchCerts(bundle)...)
		}

		if len(v.Errors) == 0 {
			// talosctl gen config also issues the admin client certificate from the bundle's
			// Talos CA: that must work too.
			if _, gerr := bundle.GenerateTalosAPIClientCertificate(role.MakeSet(role.Admin)); gerr != nil {
				v.Errors = append(v.Errors, "talos client certificate: "+gerr.Error())
			}
		}
	}

	if err := printJSON(v); err != nil {
		return err
	}

	if len(v.Errors) > 0 {
		return refusedError{}
	}

	return nil
}

// keysMatchCerts: machinery's own Validate parses each certificate and key on its own; a key
// that belongs to another certificate would only fail later, on a node. Check the pairs.
func keysMatchCerts(bundle *secrets.Bundle) []string {
	problems := []string{}

	for name, ck := range map[string]*talosx509.PEMEncodedCertificateAndKey{
		"etcd":          bundle.Certs.Etcd,
		"k8s":           bundle.Certs.K8s,
		"k8saggregator": bundle.Certs.K8sAggregator,
		"os":            bundle.Certs.OS,
	} {
		key, err := ck.GetKey()
		if err != nil {
			problems = append(problems, fmt.Sprintf("certs.%s.key: %v", name, err))

			continue
		}

		signer, ok := key.(crypto.Signer)
		if !ok {
			problems = append(problems, fmt.Sprintf("certs.%s.key: not a signing key", name))

			continue
		}

		cert, err := ck.GetCert()
		if err != nil {
			problems = append(problems, fmt.Sprintf("certs.%s.crt: %v", name, err))

			continue
		}

		pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(signer.Public()) {
			problems = append(problems, fmt.Sprintf("certs.%s: the key does not belong to the certificate", name))
		}

		if !cert.IsCA {
			problems = append(problems, fmt.Sprintf("certs.%s: the certificate is not a CA", name))
		}
	}

	sort.Strings(problems)

	return problems
}

func bundleGenCmd(args []string) error {
	fs := flag.NewFlagSet("bundle-gen", flag.ContinueOnError)
	talosVersion := fs.String("talos-version", "", "version contract (talosctl gen secrets --talos-version)")

	if len(args) < 1 {
		return errors.New("bundle-gen takes OUT")
	}

	out := args[0]

	if err := fs.Parse(args[1:]); err != nil {
		return err
	}

	var contract *config.VersionContract

	if *talosVersion != "" {
		var err error

		if contract, err = config.ParseContractFromVersion(*talosVersion); err != nil {
			return err
		}
	}

	// As talosctl gen secrets does: a clock fixed at "now", so every certificate in the bundle
	// starts at the same instant.
	bundle, err := secrets.NewBundle(secrets.NewFixedClock(time.Now()), contract)
	if err != nil {
		return err
	}

	data, err := yaml.Marshal(bundle)
	if err != nil {
		return err
	}

	if err = os.WriteFile(out, data, 0o600); err != nil {
		return err
	}

	return printJSON(map[string]string{"bundle": out})
}

type methodDesc struct {
	Name            string `json:"name"`
	Input           string `json:"input"`
	Output          string `json:"output"`
	ClientStreaming bool   `json:"client_streaming"`
	ServerStreaming bool   `json:"server_streaming"`
}

type fieldDesc struct {
	Name        string `json:"name"`
	Number      int32  `json:"number"`
	Kind        string `json:"kind"`
	Cardinality string `json:"cardinality"`
	// Type is the full name of the message or enum type, empty for scalars.
	Type string `json:"type"`
}

type enumValueDesc struct {
	Name   string `json:"name"`
	Number int32  `json:"number"`
}

type descriptorDump struct {
	Methods  []methodDesc               `json:"methods"`
	Messages map[string][]fieldDesc     `json:"messages"`
	Enums    map[string][]enumValueDesc `json:"enums"`
}

// descriptorsCmd dumps what the wire format depends on for the named RPCs: method signatures,
// and for every message reachable from them (google.protobuf's well-known types aside) each
// field's number, kind, cardinality and type, and each enum's values.
func descriptorsCmd(args []string) error {
	if len(args) < 2 {
		return errors.New("descriptors takes SERVICE METHOD...")
	}

	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(args[0]))
	if err != nil {
		return err
	}

	svc, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return fmt.Errorf("%s is not a service", args[0])
	}

	dump := descriptorDump{Methods: []methodDesc{}, Messages: map[string][]fieldDesc{}, Enums: map[string][]enumValueDesc{}}

	var visit func(m protoreflect.MessageDescriptor)

	visitEnum := func(e protoreflect.EnumDescriptor) {
		name := string(e.FullName())
		if _, seen := dump.Enums[name]; seen {
			return
		}

		values := []enumValueDesc{}
		for i := range e.Values().Len() {
			v := e.Values().Get(i)
			values = append(values, enumValueDesc{Name: string(v.Name()), Number: int32(v.Number())})
		}

		dump.Enums[name] = values
	}

	visit = func(m protoreflect.MessageDescriptor) {
		name := string(m.FullName())
		if _, seen := dump.Messages[name]; seen || strings.HasPrefix(name, "google.protobuf.") {
			return
		}

		fields := []fieldDesc{}
		dump.Messages[name] = fields

		for i := range m.Fields().Len() {
			f := m.Fields().Get(i)
			fd := fieldDesc{
				Name:        string(f.Name()),
				Number:      int32(f.Number()),
				Kind:        f.Kind().String(),
				Cardinality: f.Cardinality().String(),
			}

			switch {
			case f.Message() != nil:
				fd.Type = string(f.Message().FullName())
				visit(f.Message())
			case f.Enum() != nil:
				fd.Type = string(f.Enum().FullName())
				visitEnum(f.Enum())
			}

			fields = append(fields, fd)
		}

		dump.Messages[name] = fields
	}

	for _, method := range args[1:] {
		md := svc.Methods().ByName(protoreflect.Name(method))
		if md == nil {
			return fmt.Errorf("%s has no method %s", args[0], method)
		}

		dump.Methods = append(dump.Methods, methodDesc{
			Name:            method,
			Input:           string(md.Input().FullName()),
			Output:          string(md.Output().FullName()),
			ClientStreaming: md.IsStreamingClient(),
			ServerStreaming: md.IsStreamingServer(),
		})
		visit(md.Input())
		visit(md.Output())
	}

	return printJSON(dump)
}

// patchCmd applies Talos config patches the way talosctl does (configpatcher.LoadPatches and
// Apply), so kubectl zt's own patching can be compared with Talos's on the same input.
func patchCmd(args []string) error {
	if len(args) < 1 {
		return errors.New("patch takes CONFIG [PATCH...]")
	}

	in, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}

	refs := make([]string, 0, len(args)-1)
	for _, p := range args[1:] {
		refs = append(refs, "@"+p)
	}

	patches, err := configpatcher.LoadPatches(refs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "load patches: %v\n", err)

		return refusedError{}
	}

	out, err := configpatcher.Apply(configpatcher.WithBytes(in), patches)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apply: %v\n", err)

		return refusedError{}
	}

	cfg, err := out.Config()
	if err != nil {
		fmt.Fprintf(os.Stderr, "load the result: %v\n", err)

		return refusedError{}
	}

	bytes, err := cfg.EncodeBytes(encoder.WithComments(encoder.CommentsDisabled))
	if err != nil {
		return err
	}

	_, err = os.Stdout.Write(bytes)

	return err
}
