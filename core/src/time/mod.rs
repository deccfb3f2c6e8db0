//! Time for the core: the [`Clock`] a host provides and a hierarchical
//! timing wheel.
