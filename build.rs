//! Compiles our Talos machine API protos (proto/) into Rust with protox, a pure-Rust protobuf
//! compiler, so no `protoc` binary is needed on developer machines or in CI.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    // google/protobuf/*.proto come from protox's built-in well-known types.
    let fds = protox::compile(["machine/machine.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        // Server stubs only need tonic's `codegen` feature; the in-process test server in
        // tests/support implements them, so both sides share one definition.
        .build_server(true)
        .build_transport(false)
        // These carry machine configs (keys, tokens) and kubeconfig bytes: their Debug is
        // written by hand in src/talos/api/proto.rs so `{:?}` can never print them.
        .skip_debug(["machine.ApplyConfigurationRequest", "common.Data"])
        .compile_fds(fds)?;
    Ok(())
}
