import x from "./x";

function good() { return x.y; }

function bad( { return ; 

class Later { m() {} }
