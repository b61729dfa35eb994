//! stub
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fragment {
    None,
    First,
    NotFirst,
}
pub struct FrameInfo;
pub enum FrameKind {}
pub struct IcmpErrorInfo;
pub fn parse_frame() {}
pub fn parse_icmp_error() {}
