"""grpc_protos: sluice's published protos (api/proto) as Python message
classes, made by Debian's protoc at test time, so the tests use the same
.proto files a sender would.

    from tools.testbed.grpc_protos import generated_modules, import_grpc
    grpc = import_grpc()
    injection_pb2, health_pb2 = generated_modules(proto_root, work_dir)
    from sluice.v1 import admin_pb2
"""
import importlib.util
import os
import shutil
import subprocess
import sys


def rpc_status_module(work):
    """google/rpc/status_pb2 (Status, RetryInfo), made by generated_modules
    into `work`; loaded by path, as "google" is protobuf's own package."""
    spec = importlib.util.spec_from_file_location(
        "rpc_status_pb2", os.path.join(work, "google", "rpc", "status_pb2.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def import_grpc():
    """Debian's grpcio, or an AssertionError naming its package."""
    try:
        import grpc
    except ImportError:
        raise AssertionError("python3 cannot import grpc: install the Debian package "
                             "python3-grpcio")
    return grpc


def generated_modules(proto_root, work):
    """sluice/v1/injection_pb2 and grpc/health/v1/health_pb2 (and
    sluice.v1.admin_pb2, importable afterwards)."""
    if shutil.which("protoc") is None:
        raise AssertionError("protoc is missing (Debian package protobuf-compiler)")
    try:
        found = importlib.util.find_spec("google.protobuf") is not None
    except ModuleNotFoundError:  # no "google" package at all
        found = False
    if not found:
        raise AssertionError("python3 cannot import google.protobuf: install the Debian "
                             "package python3-protobuf")
    os.makedirs(work, exist_ok=True)
    subprocess.run(["protoc", f"-I{proto_root}", f"--python_out={work}",
                    os.path.join(proto_root, "sluice", "v1", "injection.proto"),
                    os.path.join(proto_root, "sluice", "v1", "admin.proto"),
                    os.path.join(proto_root, "grpc", "health", "v1", "health.proto"),
                    os.path.join(proto_root, "google", "rpc", "status.proto")],
                   check=True)
    sys.path.insert(0, work)
    # Not "grpc.health": that name is the grpcio package's.
    spec = importlib.util.spec_from_file_location(
        "health_pb2", os.path.join(work, "grpc", "health", "v1", "health_pb2.py"))
    health_pb2 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(health_pb2)
    from sluice.v1 import injection_pb2
    return injection_pb2, health_pb2
