import { a } from "./a";

interface Good { x: number }

function bad(: number { return a.b

export class After { m(): void {} }
