import { answerHeartbeat } from '@keepalive/core';
let owed = 0;
owed++; // we sent a heartbeat message
const verdict = answerHeartbeat(owed); // the peer's answer arrives
owed = verdict.unanswered; // 0, and verdict.reply is false
