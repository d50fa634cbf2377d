//! Crate doc.
use std::collections::HashMap;
use crate::store::{self, Store as S, backend::{File, Mem}};
use super::util::*;
extern crate serde;
mod config;

/// A point in space.
/// With two lines.
#[derive(Debug, Clone)]
pub struct Point<T> {
    x: T,
    y: T,
}

pub enum Shape { Circle(f64), Square(f64) }

pub trait Area {
    /// The area.
    fn area(&self) -> f64;
    fn name(&self) -> String { String::from("shape") }
}

impl<T: Copy> Area for Point<T> {
    fn area(&self) -> f64 {
        let m: HashMap<String, i32> = HashMap::new();
        store::open(S::default());
        0.0
    }
}

pub const MAX: usize = 10;
static COUNTER: AtomicUsize = AtomicUsize::new(0);
type Map = HashMap<String, String>;

macro_rules! square {
    ($x:expr) => { $x * $x };
}

pub mod inner {
    pub fn helper() -> i32 { 1 }
}

fn main() {
    println!("{}", square!(2));
}
