//! Benchmark support (fixtures shared by the criterion benches).
