use std::fmt;

fn good() -> i32 { 1 }

fn bad( -> { let x = ; }

struct After { a: i32 }
