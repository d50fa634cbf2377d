import fs from "fs";
import * as path from "node:path";
import { join, resolve as res } from "./util";
import type { Config } from "../config";
export { thing } from "./thing";
export * from "./all";
const legacy = require("legacy");

/**
 * Adds two numbers.
 * @param a first
 */
export function add(a: number, b: number): number {
  return path.join(fs.x, legacy.y, other.z);
}

/** A shape. */
export interface Shape {
  area(): number;
}

export type ID = string | number;

enum Color { Red, Green }

export const double = (x: number): number => x * 2;

export default class Circle implements Shape {
  /** The area. */
  area(): number {
    return res.pi;
  }
  static create(): Circle { return new Circle(); }
}

namespace NS { export const a = 1; }
async function lazy() { return import("./lazy"); }
